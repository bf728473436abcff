// Expert mixing: forward + backward of one adapted projection as inside a network (gradients of the adapter
// factors and of x; W0 frozen), N = 2048 tokens, d_in = d_out = 512, rank 16, 3 step experts + shared. Records:
// base only, single LoRA and MoTE through each kernel (ratios to the fastest single LoRA), and one decode step
// (a single token) through merged weights against the plain base projection.
// Routing: 'chain-batch' is 8 rows × 256 tokens, each row question (random step expert) → analysis → guidance →
// answer with uneven lengths (the training case); 'one-sequence' is one contiguous run per expert.
// Run alone: npx tsx benchmarks/experts.ts [wasm|cpu|tensorflow|auto] — one JSON line per record.
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import seedrandom from 'seedrandom';
import { type BackendRequest, selectBackend } from '../src/backend/index.js';
import {
  decodeRoute,
  MIX_KERNELS,
  type MixKernelName,
  MoteLinear,
  Route,
  resolveExpertConfig,
  withRoute,
} from '../src/experts/index.js';
import { Linear, type LinearContext, type LinearLike } from '../src/model/linear.js';

export interface ExpertsBenchOptions {
  tokens?: number;
  dim?: number;
  rank?: number;
  warmup?: number;
  repeats?: number;
  /** Kernels to time (default all). */
  kernels?: readonly MixKernelName[];
}

const STEPS = ['analysis', 'guidance', 'answer'] as const;

/** Step ids of `rows` chain-like rows of T tokens: question (a random step expert), then the three steps. */
function chainBatch(rows: number, T: number, seed: string): Int32Array {
  const rng = seedrandom.alea(seed);
  const ids = new Int32Array(rows * T);
  for (let b = 0; b < rows; b++) {
    const cuts = [0.1 + 0.2 * rng(), 0, 0].map((c) => Math.floor(c * T));
    cuts[1] = cuts[0] + Math.floor((0.15 + 0.25 * rng()) * T);
    cuts[2] = cuts[1] + Math.floor((0.1 + 0.2 * rng()) * T);
    const question = Math.floor(rng() * STEPS.length);
    for (let t = 0; t < T; t++)
      ids[b * T + t] = t < cuts[0] ? question : t < cuts[1] ? 0 : t < cuts[2] ? 1 : 2;
  }
  return ids;
}

/** One contiguous run per expert, uneven. */
function oneSequence(N: number): Int32Array {
  const ids = new Int32Array(N);
  for (let t = 0; t < N; t++) ids[t] = t < 0.3 * N ? 0 : t < 0.55 * N ? 1 : 2;
  return ids;
}

/** A timed case: `setup` builds what `run` needs (outside the timing) and returns its runner and cleanup. */
interface Case {
  record: { impl: string; routing: string; pass: 'fwd+bwd' | 'fwd' };
  setup: () => { run: () => tf.Tensor[]; dispose: () => void };
}

export async function benchExperts(opts: ExpertsBenchOptions = {}): Promise<object[]> {
  const { tokens: N = 2048, dim: d = 512, rank = 16, warmup = 2, repeats = 7 } = opts;
  const kernels = opts.kernels ?? MIX_KERNELS;
  const backend = tf.getBackend();
  const shape = `N=${N} d=${d} r=${rank} E=3+shared`;
  const x = tf.variable(tf.randomNormal([N, d], 0, 1, 'float32', 1), true, 'bench.x'); // (N, d)
  const probe = tf.randomNormal([N, d], 0, 1, 'float32', 2); // dL/dy
  const base = new Linear(tf.variable(tf.randomNormal([d, d], 0, 0.02, 'float32', 3), false), 'bench.w0');
  const routings = { 'chain-batch': chainBatch(8, N / 8, 'bench'), 'one-sequence': oneSequence(N) };

  /** Forward + backward (grads of x and of every trainable variable of the layer), or forward only. */
  const runner = (l: LinearLike, ctx: LinearContext | undefined, backward: boolean) => {
    const vars = [x, ...[...l.namedVariables().values()].filter((v) => v.trainable)];
    return (): tf.Tensor[] => {
      if (!backward) return [l.apply(x as tf.Tensor2D, ctx)];
      const loss = () => tf.sum(tf.mul(l.apply(x as tf.Tensor2D, ctx), probe)) as tf.Scalar;
      const { value, grads } = tf.variableGrads(loss, vars);
      return [value, ...vars.map((v) => grads[v.name])];
    };
  };
  const cases: Case[] = [];
  const add = (
    impl: string,
    routing: string,
    make: () => { l: LinearLike; ctx?: LinearContext; done: () => void },
  ) => {
    for (const backward of [true, false]) {
      cases.push({
        record: { impl, routing, pass: backward ? ('fwd+bwd' as const) : ('fwd' as const) },
        setup: () => {
          const { l, ctx, done } = make();
          return { run: runner(l, ctx, backward), dispose: done };
        },
      });
    }
  };
  const layer = (kind: 'lora' | 'mote', kernel: MixKernelName) =>
    new MoteLinear(
      base,
      resolveExpertConfig({ kind, rank, initLoraWeights: false, kernel }),
      `bench.${kind}`,
    );
  add('base', 'none', () => ({ l: base, done: () => {} }));
  for (const kernel of kernels) {
    add(`lora/${kernel}`, 'none', () => {
      const l = layer('lora', kernel);
      return { l, done: () => l.disposeAdapters() };
    });
  }
  for (const [name, ids] of Object.entries(routings)) {
    for (const kernel of kernels) {
      add(`mote/${kernel}`, name, () => {
        const l = layer('mote', kernel);
        const route = new Route(STEPS, ids, { training: true });
        return {
          l,
          ctx: withRoute(route),
          done: () => {
            l.disposeAdapters();
            route.dispose();
          },
        };
      });
    }
  }

  // Interleaved rounds: every case once per round, so drift on a shared machine hits all of them alike.
  // On the single-threaded backends (wasm in Node, cpu) the process CPU time is the cost measure: other
  // processes competing for the cores inflate wall time, hardly CPU time. Elsewhere it is wall time.
  const useCpu = backend === 'wasm' || backend === 'cpu';
  const live = cases.map((c) => c.setup());
  const wall: number[][] = cases.map(() => []);
  const cpu: number[][] = cases.map(() => []);
  for (let round = 0; round < warmup + repeats; round++) {
    for (let i = 0; i < cases.length; i++) {
      const t = await timeOnce(live[i].run);
      if (round >= warmup) {
        wall[i].push(t.wallMs);
        cpu[i].push(t.cpuMs);
      }
    }
  }
  for (const l of live) l.dispose();

  const median = (a: number[]) => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)];
  const records = cases.map((c, i) => ({
    bench: 'experts',
    backend,
    shape,
    ...c.record,
    ms: median(useCpu ? cpu[i] : wall[i]),
    measure: useCpu ? 'process cpu time' : 'wall time',
    wallMs: median(wall[i]),
    minWallMs: Math.min(...wall[i]),
  }));
  for (const pass of ['fwd+bwd', 'fwd']) {
    const mine = records.filter((r) => r.pass === pass);
    const lora = Math.min(...mine.filter((r) => r.impl.startsWith('lora/')).map((r) => r.ms));
    const base = mine.find((r) => r.impl === 'base')!.ms;
    for (const r of mine) Object.assign(r, { ratioToLora: r.ms / lora, ratioToBase: r.ms / base });
  }

  const out: object[] = [...records, await benchDecode(base, rank, d, backend)];
  tf.dispose([x, probe]);
  base.dispose();
  return out;
}

/** Wall and process CPU time of one run, all outputs synced with data(), then disposed. */
async function timeOnce(run: () => tf.Tensor[]): Promise<{ wallMs: number; cpuMs: number }> {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const out = tf.tidy(run);
  await Promise.all(out.map((t) => t.data()));
  const c = process.cpuUsage(c0);
  const wallMs = performance.now() - t0;
  tf.dispose(out);
  return { wallMs, cpuMs: (c.user + c.system) / 1000 };
}

/** One token (1, d) through the base projection, through merged MoTE weights, and through the unmerged layer. */
async function benchDecode(base: Linear, rank: number, d: number, backend: string): Promise<object> {
  const l = new MoteLinear(
    base,
    resolveExpertConfig({ kind: 'mote', rank, initLoraWeights: false }),
    'bench.dec',
  );
  const tok = tf.randomNormal([1, d], 0, 1, 'float32', 4) as tf.Tensor2D; // (1, d)
  const merged = withRoute(decodeRoute(STEPS, 'guidance'));
  const unmerged = withRoute(decodeRoute(STEPS, 'guidance', { merged: false }));
  const per = (f: () => tf.Tensor) => medianMs(() => [f()], 20, 200);
  // interleave to even out drift on a shared machine
  const baseMs: number[] = [];
  const mergedMs: number[] = [];
  for (let i = 0; i < 3; i++) {
    baseMs.push(await per(() => base.apply(tok)));
    mergedMs.push(await per(() => l.apply(tok, merged)));
  }
  const unmergedMs = await per(() => l.apply(tok, unmerged));
  const med = (a: number[]) => [...a].sort((p, q) => p - q)[1];
  l.disposeAdapters();
  tok.dispose();
  return {
    bench: 'experts-decode',
    backend,
    shape: `1x${d}·${d}x${d}`,
    baseMs: med(baseMs),
    mergedMs: med(mergedMs),
    unmergedMs,
    mergedRatio: med(mergedMs) / med(baseMs),
  };
}

/** Median time of `run` (CPU time on single-threaded backends, else wall) after `warmup` runs. */
async function medianMs(run: () => tf.Tensor[], warmup: number, repeats: number): Promise<number> {
  const useCpu = tf.getBackend() === 'wasm' || tf.getBackend() === 'cpu';
  for (let i = 0; i < warmup; i++) await timeOnce(run);
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t = await timeOnce(run);
    times.push(useCpu ? t.cpuMs : t.wallMs);
  }
  return times.sort((p, q) => p - q)[Math.floor(repeats / 2)];
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await selectBackend({ backend: (process.argv[2] ?? 'wasm') as BackendRequest });
  for (const record of await benchExperts()) console.log(JSON.stringify(record));
}
