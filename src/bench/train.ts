// Training throughput on the d=256, 4-layer preset: seq 256, batch 8, rank 16, 3 step experts + shared
// on all linears, random frozen weights, through the real `train` loop (routing, AdamW, clipping included).
// Reports tokens/s, achieved GFLOP/s from the counted FLOPs (flops.ts), and MFU = that / the best matmul GFLOP/s
// measured in the same run; then the same data with a single LoRA for the MoTE/LoRA time ratio (target ≤ 1.3).
// The two variants alternate step by step (one `train` step each per round, the first round untimed), so a change
// of machine load hits both alike. Each step is timed twice: wall clock, and the process's CPU time, which on a
// shared machine leaves out the time other processes took (the wasm backend computes on one thread; the matmul
// reference is timed both ways too). Figures are medians over the timed rounds.
// Run alone: mote bench --only train [--backend …] — one JSON line per record.
import * as tf from '@tensorflow/tfjs';
import type { EncodedChain } from '../aligncot/encode.js';
import { attachExperts } from '../experts/attach.js';
import type { ExpertConfig } from '../experts/config.js';
import { resolveModelConfig } from '../model/config.js';
import { Transformer } from '../model/transformer.js';
import { train } from '../train/trainer-node.js';
import { flopShape, trainStepFlops } from './flops.js';
import { syntheticChains } from './synthetic.js';

export { syntheticChains } from './synthetic.js';

export interface TrainBenchOptions {
  /** Untimed rounds first (kernel set-up, JIT). Default 1. */
  warmup?: number;
  /** Timed rounds (one step of each variant per round). Default 3. */
  steps?: number;
  /** Rows per step. Default 8. */
  batch?: number;
  /** Tokens per row. Default 256. */
  seqLen?: number;
  rank?: number;
  /** [M, K, N] of the matmul whose GFLOP/s is the MFU reference. Default [2048, 512, 512]. */
  matmulSize?: readonly [number, number, number];
}

/** Wall and CPU milliseconds of one measurement. */
interface Times {
  wall: number;
  cpu: number;
}

/** Records {bench:'train', experts:'mote'|'lora', …}, then {bench:'train-ratio', moteOverLora}. */
export async function benchTrain(opts: TrainBenchOptions = {}): Promise<object[]> {
  const { warmup = 1, steps = 3, batch = 8, seqLen = 256, rank = 16, matmulSize = [2048, 512, 512] } = opts;
  const backend = tf.getBackend();
  const config = resolveModelConfig({}, 'bench-256');
  const chains = syntheticChains(batch, seqLen, config.vocabSize, 'bench-train');
  const variants: [string, Partial<ExpertConfig>][] = [
    ['mote', { kind: 'mote', rank }],
    ['lora', { kind: 'lora', rank }],
  ];
  const runs = variants.map(([name, experts]) => {
    const model = Transformer.init(config, 0, { trainable: false });
    const attached = attachExperts(model, { ...experts, seed: 0 });
    const flops = trainStepFlops(flopShape(config, attached.config), batch, seqLen).total;
    return { name, model, flops, times: [] as Times[] };
  });
  const rates = [await matmulRate(matmulSize)];
  for (let round = 0; round < warmup + steps; round++) {
    for (const r of runs) {
      const t = await timeStep(r.model, chains, batch, seqLen);
      if (round >= warmup) r.times.push(t);
    }
  }
  rates.push(await matmulRate(matmulSize));
  const peak = { wall: Math.max(...rates.map((x) => x.wall)), cpu: Math.max(...rates.map((x) => x.cpu)) };
  const out: Record<string, unknown>[] = runs.map((r) => {
    const wall = median(r.times.map((t) => t.wall));
    const cpu = median(r.times.map((t) => t.cpu));
    return {
      bench: 'train',
      backend,
      model: 'bench-256',
      experts: r.name,
      seq: seqLen,
      batch,
      rank,
      timedSteps: steps,
      msPerStep: round(wall),
      cpuMsPerStep: round(cpu),
      tokensPerSec: round((batch * seqLen * 1000) / wall),
      cpuTokensPerSec: round((batch * seqLen * 1000) / cpu),
      gflopPerStep: round(r.flops / 1e9),
      gflops: round(r.flops / wall / 1e6),
      cpuGflops: round(r.flops / cpu / 1e6),
      matmulGflops: round(peak.wall),
      cpuMatmulGflops: round(peak.cpu),
      mfu: round(r.flops / cpu / 1e6 / peak.cpu),
      mfuWall: round(r.flops / wall / 1e6 / peak.wall),
      rssMB: Math.round(process.memoryUsage().rss / 2 ** 20),
    };
  });
  for (const r of runs) r.model.dispose();
  const [mote, lora] = out;
  out.push({
    bench: 'train-ratio',
    backend,
    moteOverLora: round((mote.cpuMsPerStep as number) / (lora.cpuMsPerStep as number)),
    moteOverLoraWall: round((mote.msPerStep as number) / (lora.msPerStep as number)),
    target: 1.3,
  });
  return out;
}

/** One optimizer step of a `train` run on `chains` (one batch), wall and CPU ms, as the trainer's step event ends. */
async function timeStep(
  model: Transformer,
  chains: EncodedChain[],
  batch: number,
  seqLen: number,
): Promise<Times> {
  const config = { epochs: 1, batchSize: batch, learningRate: 1e-4, evalEvery: 0, saveEvery: 0, workers: 1 };
  let times: Times | undefined;
  let c0 = process.cpuUsage();
  await train(model, { train: chains }, config, {
    seqLen,
    maxSteps: 1,
    onEvent: (e) => {
      if (e.type === 'start') c0 = process.cpuUsage();
      if (e.type === 'step') times = { wall: e.ms, cpu: cpuMs(c0) };
    },
  });
  return times!;
}

/** CPU ms (user + system) of this process since `c0`. */
const cpuMs = (c0: NodeJS.CpuUsage) => {
  const d = process.cpuUsage(c0);
  return (d.user + d.system) / 1000;
};

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** GFLOP/s of an (M × K)·(K × N) matmul by wall and by CPU time: medians of 5 after 2 warm-ups (as matmul.ts). */
async function matmulRate([M, K, N]: readonly [number, number, number]): Promise<Times> {
  const a = tf.randomNormal([M, K], 0, 1, 'float32', 1);
  const b = tf.randomNormal([K, N], 0, 1, 'float32', 2);
  const times: Times[] = [];
  for (let i = 0; i < 7; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const c = tf.matMul(a, b); // (M, N)
    await c.data();
    if (i >= 2) times.push({ wall: performance.now() - t0, cpu: cpuMs(c0) });
    c.dispose();
  }
  tf.dispose([a, b]);
  const flops = 2 * M * K * N;
  return {
    wall: flops / median(times.map((t) => t.wall)) / 1e6,
    cpu: flops / median(times.map((t) => t.cpu)) / 1e6,
  };
}

function round(x: number): number {
  return Number(x.toPrecision(4));
}
