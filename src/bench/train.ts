// Training throughput on the d=256, 4-layer preset (issue 6): seq 256, batch 8, rank 16, 3 step experts + shared
// on all linears, random frozen weights, through the real `train` loop (routing, AdamW, clipping included).
// Reports tokens/s, achieved GFLOP/s from the counted FLOPs (flops.ts), and MFU = that / the best matmul GFLOP/s
// measured in the same run (before, between and after the variants: the machine may be shared); then the same
// data with a single LoRA for the MoTE/LoRA time ratio (target ≤ 1.3). Step times are medians of the timed steps.
// Run alone: mote bench --only train [--backend …] — one JSON line per record.
import * as tf from '@tensorflow/tfjs';
import seedrandom from 'seedrandom';
import type { EncodedChain } from '../aligncot/encode.js';
import { STEP_ID } from '../aligncot/stages.js';
import { attachExperts } from '../experts/attach.js';
import type { ExpertConfig } from '../experts/config.js';
import { resolveModelConfig } from '../model/config.js';
import { Transformer } from '../model/transformer.js';
import { train } from '../train/trainer.js';
import { flopShape, trainStepFlops } from './flops.js';

export interface TrainBenchOptions {
  /** Untimed steps first (kernel set-up, optimizer slots). Default 1. */
  warmup?: number;
  /** Timed steps. Default 3. */
  steps?: number;
  /** Rows per step. Default 8. */
  batch?: number;
  /** Tokens per row. Default 256. */
  seqLen?: number;
  rank?: number;
  /** [M, K, N] of the matmul whose GFLOP/s is the MFU reference. Default [2048, 512, 512]. */
  matmulSize?: readonly [number, number, number];
}

/** Records {bench:'train', experts:'mote'|'lora', …}, then {bench:'train-ratio', moteOverLora}. */
export async function benchTrain(opts: TrainBenchOptions = {}): Promise<object[]> {
  const { warmup = 1, steps = 3, batch = 8, seqLen = 256, rank = 16, matmulSize = [2048, 512, 512] } = opts;
  const backend = tf.getBackend();
  const config = resolveModelConfig({}, 'bench-256');
  const chains = syntheticChains(batch * (warmup + steps), seqLen, config.vocabSize, 'bench-train');
  const rates = [await matmulRate(matmulSize)];
  const out: Record<string, unknown>[] = [];
  const variants: [string, Partial<ExpertConfig>][] = [
    ['mote', { kind: 'mote', rank }],
    ['lora', { kind: 'lora', rank }],
  ];
  for (const [name, experts] of variants) {
    const model = Transformer.init(config, 0, { trainable: false });
    const attached = attachExperts(model, { ...experts, seed: 0 });
    const ms = await timeSteps(model, chains, { batch, seqLen, warmup, steps });
    rates.push(await matmulRate(matmulSize));
    const flops = trainStepFlops(flopShape(config, attached.config), batch, seqLen).total;
    const gflops = flops / ms / 1e6;
    out.push({
      bench: 'train',
      backend,
      model: 'bench-256',
      experts: name,
      seq: seqLen,
      batch,
      rank,
      timedSteps: steps,
      msPerStep: round(ms),
      tokensPerSec: round((batch * seqLen * 1000) / ms),
      gflopPerStep: round(flops / 1e9),
      gflops,
      rssMB: Math.round(process.memoryUsage().rss / 2 ** 20),
    });
    model.dispose();
  }
  const matmulGflops = Math.max(...rates);
  for (const r of out) {
    r.mfu = round((r.gflops as number) / matmulGflops);
    r.gflops = round(r.gflops as number);
    r.matmulGflops = round(matmulGflops);
  }
  const [mote, lora] = out;
  out.push({
    bench: 'train-ratio',
    backend,
    moteOverLora: round((mote.msPerStep as number) / (lora.msPerStep as number)),
    target: 1.3,
  });
  return out;
}

/** Median ms of the timed optimizer steps of a `train` run (trainer-measured, results synced). */
async function timeSteps(
  model: Transformer,
  chains: EncodedChain[],
  o: { batch: number; seqLen: number; warmup: number; steps: number },
): Promise<number> {
  const times: number[] = [];
  const config = { epochs: 1, batchSize: o.batch, learningRate: 1e-4, evalEvery: 0, saveEvery: 0 };
  await train(model, { train: chains }, config, {
    seqLen: o.seqLen,
    maxSteps: o.warmup + o.steps,
    onEvent: (e) => e.type === 'step' && times.push(e.ms),
  });
  const timed = times.slice(o.warmup).sort((a, b) => a - b);
  return timed[Math.floor(timed.length / 2)];
}

/**
 * Random chains of exactly T ids: question, analysis, guidance and answer a quarter each, loss on all but the
 * question (as encodeChain lays them out), so every row is full and routed to all three step experts.
 */
export function syntheticChains(n: number, T: number, vocab: number, seed: string): EncodedChain[] {
  const rng = seedrandom(seed);
  const stages = ['question', 'analysis', 'guidance', 'answer'] as const;
  const q = Math.floor(T / 4);
  return Array.from({ length: n }, (_, c) => {
    const tokens = Int32Array.from({ length: T + 1 }, () => Math.floor(rng() * vocab));
    const stepIds = Int32Array.from({ length: T }, (_, i) => STEP_ID[stages[Math.min(3, Math.floor(i / q))]]);
    const lossMask = Float32Array.from(stepIds, (_, i) =>
      (i + 1 < T ? stepIds[i + 1] : stepIds[i]) > 0 ? 1 : 0,
    );
    const stepSpans = stages.map((stage, k) => ({ stage, start: k * q, end: k === 3 ? T : (k + 1) * q }));
    return {
      id: `syn-${c}`,
      ids: tokens.slice(0, T),
      targets: tokens.slice(1),
      lossMask,
      stepIds,
      stepSpans,
    };
  });
}

/** GFLOP/s of an (M × K)·(K × N) matmul: median of 5 after 2 warm-ups (as matmul.ts). */
async function matmulRate([M, K, N]: readonly [number, number, number]): Promise<number> {
  const a = tf.randomNormal([M, K], 0, 1, 'float32', 1);
  const b = tf.randomNormal([K, N], 0, 1, 'float32', 2);
  const times: number[] = [];
  for (let i = 0; i < 7; i++) {
    const t0 = performance.now();
    const c = tf.matMul(a, b); // (M, N)
    await c.data();
    if (i >= 2) times.push(performance.now() - t0);
    c.dispose();
  }
  tf.dispose([a, b]);
  times.sort((x, y) => x - y);
  return (2 * M * K * N) / times[2] / 1e6;
}

function round(x: number): number {
  return Number(x.toPrecision(4));
}
