// Expert mixing: forward + backward of one adapted projection as inside a network (gradients of the adapter
// factors and of x; W0 frozen), N = 2048 tokens, d_in = d_out = 512, rank 16, 3 step experts + shared. Records:
// base only, single LoRA and MoTE through each kernel (ratios to the fastest single LoRA), and one decode step
// (a single token) through merged weights against the plain base projection.
// Routing: 'chain-batch' is 8 rows × 256 tokens, each row question (random step expert) → analysis → guidance →
// answer with uneven lengths (the training case); 'one-sequence' is one contiguous run per expert. Also the
// token-routed MoE baseline (learned top-2 gate over 3 experts).
// `ms` is the median over interleaved rounds of process CPU time on single-threaded backends (wasm in Node,
// cpu: robust to other jobs on the machine), wall time elsewhere; `wallMs` and `minMs` are given too.
// Run alone: mote bench --only experts [--backend …] — one JSON line per record.
import * as tf from '@tensorflow/tfjs';
import seedrandom from 'seedrandom';
import {
  attachExperts,
  decodeRoute,
  detachExperts,
  learnedRoute,
  MIX_KERNELS,
  type MixKernelName,
  MoteLinear,
  Route,
  resolveExpertConfig,
  withRoute,
} from '../experts/index.js';
import { TensorDecoder } from '../generate/decoder.js';
import { argmax } from '../generate/sampler.js';
import { resolveModelConfig } from '../model/config.js';
import { Linear, type LinearContext, type LinearLike } from '../model/linear.js';
import { Transformer } from '../model/transformer.js';

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
  const layer = (kind: 'lora' | 'mote' | 'moe-topk', kernel: MixKernelName) =>
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
  // the token-routed MoE baseline: learned top-2 gate over 3 experts, no shared expert
  for (const kernel of kernels) {
    if (kernel === 'reference') continue;
    add(`moe-topk/${kernel}`, 'learned top-2', () => {
      const l = layer('moe-topk', kernel);
      return { l, ctx: withRoute(learnedRoute({ training: true })), done: () => l.disposeAdapters() };
    });
  }

  // Interleaved rounds: every case once per round, so drift on a shared machine hits all of them alike.
  // On the single-threaded backends (wasm in Node, cpu) the process CPU time is the cost measure: other
  // processes competing for the cores inflate wall time, hardly CPU time. Elsewhere it is wall time.
  const useCpu = backend === 'wasm' || backend === 'cpu';
  const live = cases.map((c) => c.setup());
  const wall: number[][] = cases.map(() => []);
  const cpu: number[][] = cases.map(() => []);
  for (let round = 0; round < warmup + repeats; round++) {
    for (let j = 0; j < cases.length; j++) {
      const i = round % 2 ? cases.length - 1 - j : j; // alternate the order between rounds
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
    minMs: Math.min(...(useCpu ? cpu[i] : wall[i])),
    measure: useCpu ? 'process cpu time' : 'wall time',
    wallMs: median(wall[i]),
    minWallMs: Math.min(...wall[i]),
  }));
  // ratioToLora: to the fastest single LoRA (by median); pairedRatioToLora: the median over rounds of the ratio
  // to that LoRA's time in the same round (neighbours in time, so slow drift of the machine cancels)
  const series = useCpu ? cpu : wall;
  for (const pass of ['fwd+bwd', 'fwd']) {
    const mine = records.map((r, i) => ({ r, i })).filter(({ r }) => r.pass === pass);
    const loras = mine.filter(({ r }) => r.impl.startsWith('lora/'));
    const lora = loras.reduce((a, b) => (b.r.ms < a.r.ms ? b : a));
    const loraMin = Math.min(...loras.map(({ r }) => r.minMs));
    const base = mine.find(({ r }) => r.impl === 'base')!.r;
    for (const { r, i } of mine)
      Object.assign(r, {
        ratioToLora: r.ms / lora.r.ms,
        pairedRatioToLora: median(series[i].map((t, k) => t / series[lora.i][k])),
        ratioToLoraOfMin: r.minMs / loraMin,
        ratioToBase: r.ms / base.ms,
      });
  }

  const out: object[] = [
    ...records,
    await benchDecode(base, rank, d, backend),
    await benchModelDecode(rank, backend),
  ];
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

/**
 * One token (1, d) through the base projection, through the MoTE layer with merged weights (a decode route), and
 * through the unmerged layer. Blocks of calls alternate between the three so that drift hits them alike; each
 * block's mean per call is one sample; the record holds the medians.
 */
async function benchDecode(base: Linear, rank: number, d: number, backend: string): Promise<object> {
  const l = new MoteLinear(
    base,
    resolveExpertConfig({ kind: 'mote', rank, initLoraWeights: false }),
    'bench.dec',
  );
  const tok = tf.randomNormal([1, d], 0, 1, 'float32', 4) as tf.Tensor2D; // (1, d)
  const merged = withRoute(decodeRoute(STEPS, 'guidance'));
  const unmerged = withRoute(decodeRoute(STEPS, 'guidance', { merged: false }));
  const useCpu = backend === 'wasm' || backend === 'cpu';
  const block = async (f: () => tf.Tensor, calls: number) => {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    for (let i = 0; i < calls; i++) {
      const out = tf.tidy(f);
      await out.data();
      out.dispose();
    }
    const c = process.cpuUsage(c0);
    return (useCpu ? (c.user + c.system) / 1000 : performance.now() - t0) / calls;
  };
  const runs = {
    base: () => base.apply(tok),
    merged: () => l.apply(tok, merged),
    unmerged: () => l.apply(tok, unmerged),
  };
  const samples: Record<keyof typeof runs, number[]> = { base: [], merged: [], unmerged: [] };
  for (const f of Object.values(runs)) await block(f, 50); // warm-up (merged weight built here)
  const order = Object.entries(runs) as [keyof typeof runs, () => tf.Tensor][];
  for (let i = 0; i < 16; i++) {
    for (const [k, f] of i % 2 ? [...order].reverse() : order)
      samples[k].push(await block(f, k === 'unmerged' ? 20 : 200));
  }
  const med = (a: number[]) => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)];
  l.disposeAdapters();
  tok.dispose();
  return {
    bench: 'experts-decode',
    backend,
    shape: `1x${d}·${d}x${d}`,
    measure: useCpu ? 'process cpu time' : 'wall time',
    baseMs: med(samples.base),
    mergedMs: med(samples.merged),
    unmergedMs: med(samples.unmerged),
    mergedRatio: med(samples.merged) / med(samples.base),
    mergedRatioOfMin: Math.min(...samples.merged) / Math.min(...samples.base),
    pairedMergedRatio: med(samples.merged.map((t, i) => t / samples.base[i])),
  };
}

/**
 * A whole decode step (tensor decoder, one token, KV cache) of the bench-256 preset (d = 256, 4 layers, random
 * weights): without experts, with MoTE attached and merged for the current step, and unmerged.
 */
async function benchModelDecode(rank: number, backend: string): Promise<object> {
  const useCpu = backend === 'wasm' || backend === 'cpu';
  const model = Transformer.init(resolveModelConfig({}, 'bench-256'), 0, { trainable: false });
  const tokens = 48;
  /** ms per token of greedy decoding `tokens` tokens from BOS. */
  const perToken = (ctx?: LinearContext) => {
    const dec = new TensorDecoder(model, 1, ctx);
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    let id = 1;
    for (let i = 0; i < tokens; i++) id = argmax(dec.step([[id]])[0]);
    const c = process.cpuUsage(c0);
    const ms = useCpu ? (c.user + c.system) / 1000 : performance.now() - t0;
    dec.dispose();
    return ms / tokens;
  };
  const variants: [string, () => number][] = [['base', () => perToken()]];
  const samples: Record<string, number[]> = { base: [], merged: [], unmerged: [] };
  perToken();
  const experts = attachExperts(model, { kind: 'mote', rank, initLoraWeights: false });
  const merged = withRoute(decodeRoute(experts.config.stepExperts, 'answer'));
  const unmerged = withRoute(decodeRoute(experts.config.stepExperts, 'answer', { merged: false }));
  variants.push(['merged', () => perToken(merged)], ['unmerged', () => perToken(unmerged)]);
  perToken(merged);
  // time the base by putting its plain projections back into the slots (re-attaching would rebuild the experts)
  const slots = model.linearSlots();
  const wrapped = slots.map((s) => s.get());
  const originals = [...experts.layers.values()].map((l) => l.base);
  const use = (linears: LinearLike[]) => {
    for (let i = 0; i < slots.length; i++) slots[i].set(linears[i]);
  };
  for (let round = 0; round < 5; round++) {
    for (const [name, run] of variants) {
      use(name === 'base' ? originals : wrapped);
      samples[name].push(run());
    }
    variants.reverse(); // alternate the order between rounds
  }
  use(wrapped);
  detachExperts(model);
  model.dispose();
  const med = (a: number[]) => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)];
  return {
    bench: 'experts-model-decode',
    backend,
    model: 'bench-256 (d=256, 4 layers), tensor decoder, 1 token/step',
    measure: useCpu ? 'process cpu time' : 'wall time',
    baseMsPerToken: med(samples.base),
    mergedMsPerToken: med(samples.merged),
    unmergedMsPerToken: med(samples.unmerged),
    mergedRatio: med(samples.merged) / med(samples.base),
    mergedRatioOfMin: Math.min(...samples.merged) / Math.min(...samples.base),
    pairedMergedRatio: med(samples.merged.map((t, i) => t / samples.base[i])),
  };
}
