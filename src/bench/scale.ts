// Training at real model sizes (SmolLM2-135M, Qwen2.5-0.5B shapes; scale-shapes.ts): MoTE rank 16 and a single
// LoRA rank 16 on every projection, batch 1, through the real `train` loop, at each sequence length and worker
// count. Each (shape, seq, kind, workers) runs in a child process of its own (scale-case.ts), so that its peak RSS
// and wasm heap are its own. Records: {bench:'scale', …} per case (tokens/s median and range over the timed steps,
// RSS after the steps and the process's peak, wasm heap, the memory estimate), {bench:'scale-step'} per step, and
// {bench:'scale-ratio', moteOverLora} per (shape, seq, workers). A case that fails (e.g. out of memory) gives one
// {bench:'scale', error} record and the suite goes on.
// Run: mote bench --only scale [--backend wasm]; not part of a plain `mote bench` (minutes per case).
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import type { ScaleCase, ScaleShape } from './scale-shapes.js';

const run = promisify(execFile);

export interface ScaleBenchOptions {
  /** (shape, seq) pairs. Default SmolLM2-135M at 256 and 512, Qwen2.5-0.5B at 256. */
  cases?: readonly { shape: ScaleShape; seq: number }[];
  /** Adapter kinds. Default MoTE and single LoRA. */
  experts?: readonly ('mote' | 'lora')[];
  /** Worker counts (1: in-process). A case on w workers trains w sequences per step, one per worker. Default [1]. */
  workers?: readonly number[];
  /** Untimed steps first. Default 1. */
  warmup?: number;
  /** Timed steps. Default 2. */
  steps?: number;
  /** LoRA rank. Default 16. */
  rank?: number;
  /** Per-case timeout. Default 30 min. */
  timeoutMs?: number;
  /** Also emit the per-step records. Default true. */
  perStep?: boolean;
}

export const DEFAULT_SCALE_CASES = [
  { shape: 'smollm2-135m', seq: 256 },
  { shape: 'smollm2-135m', seq: 512 },
  { shape: 'qwen2.5-0.5b', seq: 256 },
] as const;

/** How to start scale-case in a child: the built .js with node, or the .ts source through tsx's loader. */
function caseCommand(): string[] {
  const self = fileURLToPath(import.meta.url);
  const script = self.replace(/scale\.(ts|js)$/, 'scale-case.$1');
  if (self.endsWith('.js')) return [script];
  return ['--import', import.meta.resolve('tsx/esm'), script];
}

/** Runs one case in a child process; its records, or one error record. */
export async function runScaleCase(
  c: ScaleCase,
  timeoutMs = 30 * 60_000,
): Promise<Record<string, unknown>[]> {
  try {
    const { stdout } = await run(process.execPath, [...caseCommand(), JSON.stringify(c)], {
      timeout: timeoutMs,
      maxBuffer: 16 * 2 ** 20,
    });
    return parseLines(stdout);
  } catch (e) {
    const err = e as Error & { stdout?: string; stderr?: string };
    const lines = parseLines(err.stdout ?? '');
    // the child's error line (Node prints the source line, the error, its stack and its fields, then its version)
    const stderr = (err.stderr ?? '').trim().split('\n');
    const at = stderr.findLastIndex((l) => /^[A-Za-z]*Error\b/.test(l));
    const why = (at >= 0 ? stderr[at] : stderr.slice(-3).join(' ')).slice(0, 600) || err.message;
    return [...lines, { bench: 'scale', ...caseFields(c), error: why }];
  }
}

const caseFields = (c: ScaleCase) => ({
  backend: c.backend,
  shape: c.shape,
  experts: c.experts,
  seq: c.seq,
  workers: c.workers,
  batch: c.batch,
});

function parseLines(stdout: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // not a record
    }
  }
  return out;
}

const ratio = (a: unknown, b: unknown): number | null =>
  typeof a === 'number' && typeof b === 'number' && b > 0 ? Number((a / b).toPrecision(4)) : null;

/** The suite (file header). */
export async function benchScale(opts: ScaleBenchOptions = {}): Promise<object[]> {
  const {
    cases = DEFAULT_SCALE_CASES,
    experts = ['mote', 'lora'],
    workers = [1],
    warmup = 1,
    steps = 2,
    rank = 16,
    perStep = true,
  } = opts;
  const backend = tf.getBackend();
  const out: Record<string, unknown>[] = [];
  for (const { shape, seq } of cases)
    for (const w of workers) {
      const summaries: Record<string, Record<string, unknown>> = {};
      for (const kind of experts) {
        const records = await runScaleCase(
          { shape, seq, experts: kind, workers: w, batch: w, rank, warmup, steps, backend },
          opts.timeoutMs,
        );
        for (const r of records) if (perStep || r.bench !== 'scale-step') out.push(r);
        summaries[kind] = records.find((r) => r.bench === 'scale') ?? {};
      }
      if (summaries.mote && summaries.lora)
        out.push({
          bench: 'scale-ratio',
          backend,
          shape,
          seq,
          workers: w,
          moteOverLora: ratio(summaries.mote.msPerStep, summaries.lora.msPerStep),
          target: 1.3,
        });
    }
  return out;
}
