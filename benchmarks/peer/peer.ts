// `npm run bench:peer`: our training bench (src/bench/train.ts, MoTE and single LoRA) and its PyTorch peer
// (train_peer.py, same model, data, routing, loss and optimizer) in one run, then the ratio. Not part of the
// npm package: it needs a python with torch, found as $MOTE_PYTHON, else python3, else /usr/bin/python3 (a
// pyenv python3 on PATH often has no torch while the distribution's has). No such python: one skip record.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type BenchBackend, selectBenchBackend } from '../../src/bench/backend.js';
import { benchParallel } from '../../src/bench/parallel.js';
import { DEFAULT_SCALE_CASES, runScaleCase } from '../../src/bench/scale.js';
import { SCALE_SHAPES, type ScaleShape } from '../../src/bench/scale-shapes.js';
import { benchTrain } from '../../src/bench/train.js';

const run = promisify(execFile);

/** The peer script, next to this file. */
export const PEER_SCRIPT = fileURLToPath(new URL('./train_peer.py', import.meta.url));

/** Pythons tried in order when MOTE_PYTHON is not set. */
export const DEFAULT_PYTHONS = ['python3', '/usr/bin/python3'];

/** A python that imports torch, or every python tried and why it would not do. */
export type PythonSearch =
  | { ok: true; command: string; torch: string }
  | { ok: false; tried: { command: string; reason: string }[] };

const PROBE = 'import json, torch; print(json.dumps({"torch": torch.__version__}))';

/**
 * The first python that imports torch: only $MOTE_PYTHON when it is set (an explicit choice is not second-guessed),
 * else `candidates` in order. Commands without a slash are looked up on `env.PATH`.
 */
export async function findTorchPython(
  opts: { env?: NodeJS.ProcessEnv; candidates?: readonly string[]; timeoutMs?: number } = {},
): Promise<PythonSearch> {
  const env = opts.env ?? process.env;
  const candidates = env.MOTE_PYTHON ? [env.MOTE_PYTHON] : (opts.candidates ?? DEFAULT_PYTHONS);
  const tried: { command: string; reason: string }[] = [];
  for (const command of candidates) {
    try {
      const { stdout } = await run(command, ['-c', PROBE], { env, timeout: opts.timeoutMs ?? 60_000 });
      const torch = (JSON.parse(stdout.trim().split('\n').pop() ?? '') as { torch?: unknown }).torch;
      if (typeof torch === 'string') return { ok: true, command, torch };
      tried.push({ command, reason: `unexpected output: ${stdout.trim().slice(0, 200)}` });
    } catch (e) {
      const err = e as NodeJS.ErrnoException & { stderr?: string };
      const reason =
        err.code === 'ENOENT'
          ? 'not found'
          : (err.stderr?.trim().split('\n').pop() ?? err.message.split('\n')[0]).slice(0, 200);
      tried.push({ command, reason });
    }
  }
  return { ok: false, tried };
}

/** The train-peer* records among the script's output lines (anything else, e.g. warnings, is skipped). */
export function parsePeerOutput(stdout: string): Record<string, unknown>[] {
  const records: Record<string, unknown>[] = [];
  for (const line of stdout.split('\n')) {
    const text = line.trim();
    if (!text.startsWith('{')) continue;
    try {
      const r = JSON.parse(text) as Record<string, unknown>;
      if (typeof r.bench === 'string' && r.bench.startsWith('train-peer')) records.push(r);
    } catch {
      // not a record
    }
  }
  if (!records.some((r) => r.bench === 'train-peer' && typeof r.tokensPerSec === 'number')) {
    throw new Error(`train_peer.py printed no train-peer record; its output was:\n${stdout.slice(0, 2000)}`);
  }
  return records;
}

/** Peer script arguments (see `train_peer.py --help`), as --key value pairs; true: a bare --flag. */
export type PeerArgs = Record<string, string | number | boolean>;

/** Runs train_peer.py with `python` and returns its records. */
export async function runPeerScript(
  python: string,
  args: PeerArgs = {},
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; script?: string } = {},
): Promise<Record<string, unknown>[]> {
  const argv = Object.entries(args).flatMap(([k, v]) =>
    v === true ? [`--${k}`] : v === false ? [] : [`--${k}`, String(v)],
  );
  const { stdout } = await run(python, [opts.script ?? PEER_SCRIPT, ...argv], {
    env: opts.env ?? process.env,
    timeout: opts.timeoutMs ?? 60 * 60_000,
    maxBuffer: 16 * 2 ** 20,
  });
  return parsePeerOutput(stdout);
}

const ratio = (a: unknown, b: unknown): number | null =>
  typeof a === 'number' && typeof b === 'number' && b > 0 ? Number((a / b).toPrecision(4)) : null;

/**
 * {bench:'train-peer-ratio'}: our tokens/s over PyTorch's, for MoTE (`oursOverPytorch`) and single LoRA, each
 * side's MoTE/LoRA step-time ratio, each side's matmul GFLOP/s (what its kernels can do on this machine), and
 * each side's MoTE MFU (counted GFLOP/s of the step over that matmul rate), which compares the two training
 * steps with the BLAS factored out.
 */
export function peerRatio(
  ours: Record<string, unknown>[],
  peer: Record<string, unknown>[],
  context: { backend: string; device: string },
  /** Our 2-worker run (parallel-ratio record) and PyTorch on as many threads, when measured. */
  wide?: { ours: Record<string, unknown>; peer: Record<string, unknown>[] },
): Record<string, unknown> {
  const pick = (rs: Record<string, unknown>[], bench: string, experts: string) =>
    rs.find((r) => r.bench === bench && r.experts === experts) ?? {};
  const [om, ol] = [pick(ours, 'train', 'mote'), pick(ours, 'train', 'lora')];
  const [pm, pl] = [pick(peer, 'train-peer', 'mote'), pick(peer, 'train-peer', 'lora')];
  return {
    bench: 'train-peer-ratio',
    backend: context.backend,
    device: context.device,
    measure: 'tokensPerSec, ours / pytorch (> 1: ours faster)',
    oursOverPytorch: ratio(om.tokensPerSec, pm.tokensPerSec),
    loraOursOverPytorch: ratio(ol.tokensPerSec, pl.tokensPerSec),
    moteOverLora: { ours: ratio(om.msPerStep, ol.msPerStep), pytorch: ratio(pm.msPerStep, pl.msPerStep) },
    matmulGflops: { ours: om.matmulGflops ?? null, pytorch: pm.matmulGflops ?? pl.matmulGflops ?? null },
    // the same model and step, so our FLOP count is PyTorch's too: achieved GFLOP/s over each side's matmul rate
    mfu: {
      ours: om.mfu ?? null,
      pytorch: ratio(
        typeof om.gflopPerStep === 'number' ? (om.gflopPerStep * 1000) / (pm.msPerStep as number) : null,
        pm.matmulGflops,
      ),
    },
    pytorchThreads: pm.threads ?? pl.threads ?? null,
    ...(wide
      ? {
          // both cores: our data-parallel MoTE (2 workers) over PyTorch's MoTE on 1 and on 2 threads
          oursWorkers2OverPytorch: ratio(wide.ours.tokensPerSec2, pm.tokensPerSec),
          oursWorkers2OverPytorchThreads2: ratio(
            wide.ours.tokensPerSec2,
            pick(wide.peer, 'train-peer', 'mote').tokensPerSec,
          ),
        }
      : {}),
    ...(pm.warning || pl.warning ? { warning: pm.warning ?? pl.warning } : {}),
  };
}

/** Options of runPeerBench. */
export interface PeerBenchOptions {
  backend?: BenchBackend;
  allowCpuFallback?: boolean;
  /** PyTorch threads (default 1, like tfjs wasm under Node). */
  threads?: number;
  warmup?: number;
  steps?: number;
  /** Extra train_peer.py arguments (e.g. { mix: 'dense' }). */
  peerArgs?: PeerArgs;
  /** Also measure both cores: our data-parallel training on 2 workers, PyTorch on 2 threads. Default true. */
  wide?: boolean;
  env?: NodeJS.ProcessEnv;
  candidates?: readonly string[];
  emit?: (record: object) => void;
  log?: (line: string) => void;
}

/**
 * Finds a torch python (else emits one skip record and returns), selects the backend, runs our train bench
 * then the peer with the same shapes and step counts, and emits every record and the ratio.
 */
export async function runPeerBench(o: PeerBenchOptions = {}): Promise<void> {
  const emit = o.emit ?? ((r) => process.stdout.write(`${JSON.stringify(r)}\n`));
  const log = o.log ?? ((line) => process.stderr.write(`${line}\n`));
  const { threads = 1, warmup = 1, steps = 3 } = o;
  const python = await findTorchPython({ env: o.env, candidates: o.candidates });
  if (!python.ok) {
    const reason =
      'no python with torch found (set MOTE_PYTHON to one; tried ' +
      python.tried.map((t) => `${t.command}: ${t.reason}`).join('; ') +
      ')';
    log(`bench:peer skipped: ${reason}`);
    emit({ bench: 'train-peer', skipped: true, reason });
    return;
  }
  const { choice, device } = await selectBenchBackend(o.backend ?? 'wasm', {
    allowCpuFallback: o.allowCpuFallback,
    onEvent: (e) => e.type === 'warning' && log(`warning: ${e.message}`),
  });
  log(
    `backend: ${choice.name} on the ${device.toUpperCase()}; peer: ${python.command} (torch ${python.torch})`,
  );
  const ours = (await benchTrain({ warmup, steps })) as Record<string, unknown>[];
  for (const r of ours) emit({ ...r, device });
  const peer = await runPeerScript(python.command, { threads, warmup, steps, ...o.peerArgs }, { env: o.env });
  for (const r of peer) emit(r);
  let wide: { ours: Record<string, unknown>; peer: Record<string, unknown>[] } | undefined;
  if (o.wide ?? true) {
    const parallel = (await benchParallel({ warmup, rounds: Math.max(steps, 5) })) as Record<
      string,
      unknown
    >[];
    for (const r of parallel) emit({ ...r, device });
    const peer2 = await runPeerScript(
      python.command,
      { threads: 2, warmup, steps, experts: 'mote', ...o.peerArgs },
      { env: o.env },
    );
    for (const r of peer2) emit(r);
    wide = { ours: parallel.find((r) => r.bench === 'parallel-ratio') ?? {}, peer: peer2 };
  }
  emit(peerRatio(ours, peer, { backend: choice.name, device }, wide));
}

/** Options of runScalePeerBench. */
export interface ScalePeerOptions {
  /** (shape, seq) pairs; default those of the scale suite. */
  cases?: readonly { shape: ScaleShape; seq: number }[];
  warmup?: number;
  steps?: number;
  /** PyTorch threads (default 1). */
  threads?: number;
  /**
   * Our worker counts (default [1]). On w > 1 workers ours trains w sequences per step, one per worker, and is
   * compared by tokens/s with the same PyTorch run (`threads` threads, one sequence per step).
   */
  workers?: readonly number[];
  env?: NodeJS.ProcessEnv;
  candidates?: readonly string[];
  emit?: (record: object) => void;
  log?: (line: string) => void;
}

/**
 * Ours over PyTorch for one case. Tokens/s by wall clock and by CPU time: CPU time (a process's, all its threads)
 * leaves out what other processes took on a shared machine, but on w workers it adds the workers' CPU, so the CPU
 * ratio there says how much work a token costs, not how fast a step is.
 */
export function scalePeerRatio(
  shape: ScaleShape,
  seq: number,
  workers: number,
  threads: number,
  ours: Record<string, Record<string, unknown>>,
  peer: Record<string, Record<string, unknown>>,
): object {
  const cpuPerToken = (r: Record<string, unknown>, rows: number) =>
    typeof r.cpuMsPerStep === 'number' ? r.cpuMsPerStep / rows : undefined;
  return {
    bench: 'scale-peer-ratio',
    shape,
    seq,
    workers,
    pytorchThreads: threads,
    measure: 'ours / pytorch (tokens/s: > 1 ours faster; peak RSS: > 1 ours larger)',
    oursOverPytorch: ratio(ours.mote.tokensPerSec, peer.mote.tokensPerSec),
    loraOursOverPytorch: ratio(ours.lora.tokensPerSec, peer.lora.tokensPerSec),
    oursOverPytorchCpu: ratio(cpuPerToken(peer.mote, 1), cpuPerToken(ours.mote, workers)),
    loraOursOverPytorchCpu: ratio(cpuPerToken(peer.lora, 1), cpuPerToken(ours.lora, workers)),
    moteOverLora: {
      ours: ratio(ours.mote.msPerStep, ours.lora.msPerStep),
      pytorch: ratio(peer.mote.msPerStep, peer.lora.msPerStep),
    },
    peakRssMB: { ours: ours.mote.peakRssMB ?? null, pytorch: peer.mote.peakRssMB ?? null },
    peakRssOverPytorch: ratio(ours.mote.peakRssMB, peer.mote.peakRssMB),
  };
}

/** train_peer.py arguments for a scale shape. */
export function scalePeerArgs(shape: ScaleShape, seq: number): PeerArgs {
  const s = SCALE_SHAPES[shape];
  return {
    name: shape,
    dim: s.dim,
    layers: s.numLayers,
    heads: s.numHeads,
    'kv-heads': s.numKvHeads,
    hidden: s.hiddenDim,
    vocab: s.vocabSize,
    seq,
    batch: 1,
    'qkv-bias': 'biases' in s,
  };
}

/**
 * The scale suite's cases (src/bench/scale.ts) side by side with PyTorch on the same shape and step: for each case
 * and kind, ours (a child process) then the peer (its own process), so each side's peak RSS is its own; then
 * {bench:'scale-peer-ratio'} with tokens/s ours / PyTorch, each side's MoTE/LoRA, and the peak RSS ratio.
 */
export async function runScalePeerBench(o: ScalePeerOptions = {}): Promise<void> {
  const emit = o.emit ?? ((r) => process.stdout.write(`${JSON.stringify(r)}\n`));
  const log = o.log ?? ((line) => process.stderr.write(`${line}\n`));
  const { warmup = 1, steps = 2, threads = 1 } = o;
  const python = await findTorchPython({ env: o.env, candidates: o.candidates });
  if (!python.ok) {
    const reason = `no python with torch found (set MOTE_PYTHON; tried ${python.tried.map((t) => `${t.command}: ${t.reason}`).join('; ')})`;
    log(`bench:peer --scale skipped: ${reason}`);
    emit({ bench: 'scale-peer', skipped: true, reason });
    return;
  }
  log(
    `scale: ours on wasm (${(o.workers ?? [1]).join(', ')} worker(s)), peer ${python.command} (torch ${python.torch}, ${threads} thread(s))`,
  );
  for (const { shape, seq } of o.cases ?? DEFAULT_SCALE_CASES) {
    const peer: Record<string, Record<string, unknown>> = {};
    for (const workers of o.workers ?? [1]) {
      const ours: Record<string, Record<string, unknown>> = {};
      for (const kind of ['mote', 'lora'] as const) {
        const records = await runScaleCase({
          shape,
          seq,
          experts: kind,
          workers,
          batch: workers,
          rank: 16,
          warmup,
          steps,
          backend: 'wasm',
        });
        for (const r of records) emit(r);
        ours[kind] = records.find((r) => r.bench === 'scale') ?? {};
        if (peer[kind]) continue; // PyTorch runs once per case and kind, next to our first worker count
        const args = { ...scalePeerArgs(shape, seq), experts: kind, threads, warmup, steps };
        const peerRecords = await runPeerScript(python.command, args, { env: o.env }).catch((e: Error) => [
          {
            bench: 'train-peer',
            framework: 'pytorch',
            model: shape,
            seq,
            experts: kind,
            error: e.message.slice(0, 600),
          },
        ]);
        for (const r of peerRecords) emit({ ...r, bench: r.bench === 'train-peer' ? 'scale-peer' : r.bench });
        peer[kind] = peerRecords.find((r) => r.bench === 'train-peer') ?? {};
      }
      emit(scalePeerRatio(shape, seq, workers, threads, ours, peer));
    }
  }
}
