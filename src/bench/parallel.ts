// Data-parallel training throughput: the d=256, 4-layer preset, MoTE rank 16 (3 step experts + shared on
// all linears), seq 256, batch 8 in one micro-batch (microBatchSize = batchSize, the default: with 2 workers each
// step's micro-batch is split into two shards of 4 rows, parallel/shard.ts), through the real `train` loop with
// workers 1 (in-process) and 2 (a GradientPool), on two copies of the model.
// The cases alternate step by step: each round runs one `train` step of each (order swapped every round), the
// 2-worker case on one pool kept warm across rounds (`options.parallel.pool`). A shared virtual machine's speed
// drifts over tens of seconds, so only steps timed next to each other compare: the
// figure is the median over rounds of the paired ratio (1-worker ms / 2-worker ms), target ≥ 1.7. A third case
// measures weak scaling, as data-parallel throughput is usually quoted: 2 workers on twice the batch, so each
// worker computes as many rows as the single worker (tokens/s over tokens/s, paired too). Also reported:
// each case's median and best step, the CPU time per step (all threads) and cores used, how far the two copies'
// weights end apart, and what workers 'auto' picks here. What the machine allows is measured alongside: `ceiling`
// times the pool's two workers computing the step's two shards at once with nothing else (no reduction, no
// optimizer: what any data-parallel step could reach here, over the same round's 1-worker step) and one worker
// computing one shard alone (`concurrency`: the two shards' throughput over one's alone, 2 when the same work runs
// as fast side by side as alone); `threadScaling` and `memoryScaling` (before and after) are 2 threads' throughput
// over 1 thread's on a plain integer loop and on a memory copy larger than the caches.
// Run alone: mote bench --only parallel [--backend …] — one JSON line per record.
import { availableParallelism, loadavg } from 'node:os';
import { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import type { EncodedChain } from '../aligncot/encode.js';
import { attachExperts } from '../experts/attach.js';
import { resolveModelConfig } from '../model/config.js';
import { Transformer } from '../model/transformer.js';
import { batches, type HostBatch } from '../train/batch.js';
import { resolveTrainConfig } from '../train/config.js';
import { resolveWorkers } from '../train/parallel/auto.js';
import { GradientPool } from '../train/parallel/pool.js';
import { sliceRows, splitRows } from '../train/parallel/shard.js';
import { trainableByName } from '../train/trainer.js';
import { train } from '../train/trainer-node.js';
import { syntheticChains } from './train.js';

export interface ParallelBenchOptions {
  /** Untimed rounds first (replica JIT warm-up). Default 1. */
  warmup?: number;
  /** Timed rounds, one optimizer step of each case per round. Default 8. */
  rounds?: number;
  /** Rows per optimizer step. Default 8. */
  batch?: number;
  /** Rows per micro-batch. Default: `batch` (one micro-batch per step, split between the workers). */
  microBatch?: number;
  /** Tokens per row. Default 256. */
  seqLen?: number;
  rank?: number;
  /** Measure `threadScaling` and `memoryScaling` (about 5 s before and after). Default true. */
  threadProbe?: boolean;
  /** Also time 2 workers on twice the batch (weak scaling). Default true. */
  weak?: boolean;
  /** Also time the shards' gradients alone, one worker and two at once (the `ceiling` record). Default true. */
  ceiling?: boolean;
}

/** Wall and CPU (all threads) ms of one optimizer step. */
interface StepTime {
  ms: number;
  cpuMs: number;
}

/** Records {bench:'parallel', workers, …} per case, then {bench:'parallel-ratio', …}. */
export async function benchParallel(opts: ParallelBenchOptions = {}): Promise<object[]> {
  const {
    warmup = 1,
    rounds = 8,
    batch = 8,
    seqLen = 256,
    rank = 16,
    threadProbe = true,
    weak = true,
    ceiling = true,
  } = opts;
  const microBatch = opts.microBatch ?? batch;
  const backend = tf.getBackend();
  const config = resolveModelConfig({}, 'bench-256');
  const chains = syntheticChains(batch, seqLen, config.vocabSize, 'bench-parallel');
  const loadBefore = loadavg()[0];
  const scalingBefore = threadProbe ? await machineScaling() : null;

  const build = () => {
    const model = Transformer.init(config, 0, { trainable: false });
    attachExperts(model, { kind: 'mote', rank, seed: 0 });
    return model;
  };
  const models = { 1: build(), 2: build() };
  const t0 = performance.now();
  const pool = await GradientPool.forModel(models[2], { workers: 2 });
  const poolStartMs = performance.now() - t0;
  // the weak-scaling case trains its own copy (identical frozen weights, so the same pool accepts it)
  const weakCase = weak
    ? {
        model: build(),
        chains: syntheticChains(2 * batch, seqLen, config.vocabSize, 'bench-parallel'),
        ms: [] as number[],
      }
    : null;
  // the ceiling case computes the gradients of the first batch the 1-worker case trains on, cut in two shards
  const ceilingCase =
    ceiling && microBatch === batch
      ? {
          batch: firstBatch(chains, batch, seqLen),
          times: [] as { one: number; two: number }[],
        }
      : null;
  const times: Record<1 | 2, StepTime[]> = { 1: [], 2: [] };
  try {
    const trainConfig = (b: number, workers: number) => ({
      epochs: 1,
      batchSize: b,
      microBatchSize: (microBatch * b) / batch,
      learningRate: 1e-4,
      workers,
    });
    let timed = false; // false in the warm-up rounds
    const cases: (() => Promise<void>)[] = ([1, 2] as const).map((workers) => async () => {
      const t = await timeStep(
        models[workers],
        chains,
        trainConfig(batch, workers),
        seqLen,
        workers === 2 ? pool : undefined,
      );
      if (timed) times[workers].push(t);
    });
    if (weakCase)
      cases.push(async () => {
        const t = await timeStep(weakCase.model, weakCase.chains, trainConfig(2 * batch, 2), seqLen, pool);
        if (timed) weakCase.ms.push(t.ms);
      });
    if (ceilingCase) {
      const vars = trainableByName(models[2]);
      let step = 1_000_000; // step numbers of these calls only name them in error messages
      const shards = splitRows(batch, 2).map(([a, b]) => sliceRows(ceilingCase.batch, a, b));
      cases.push(async () => {
        const t0 = performance.now();
        await pool.gradients(step++, vars, [{ batch: shards[0], routeSeed: 'ceiling' }]);
        const one = performance.now() - t0;
        await pool.gradients(
          step++,
          vars,
          shards.map((b) => ({ batch: b, routeSeed: 'ceiling' })),
        );
        if (timed) ceilingCase.times.push({ one, two: performance.now() - t0 - one });
      });
    }
    for (let round = 0; round < warmup + rounds; round++) {
      timed = round >= warmup;
      for (const run of round % 2 === 0 ? cases : [...cases].reverse()) await run();
    }
  } finally {
    await pool.dispose();
    weakCase?.model.dispose();
  }
  let maxDiff = 0;
  const finals = trainableByName(models[2]);
  for (const [name, v] of trainableByName(models[1])) {
    const [a, b] = [v.dataSync(), finals.get(name)!.dataSync()];
    for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
  }
  const parameters = models[1].parameterCount();
  models[1].dispose();
  models[2].dispose();

  const tokens = batch * seqLen;
  const out: object[] = ([1, 2] as const).map((workers) => {
    const ms = median(times[workers].map((t) => t.ms));
    const cpuMs = median(times[workers].map((t) => t.cpuMs));
    return {
      bench: 'parallel',
      backend,
      model: 'bench-256',
      experts: 'mote',
      seq: seqLen,
      batch,
      microBatch,
      rank,
      workers,
      rounds,
      msPerStep: round4(ms),
      bestMsPerStep: round4(Math.min(...times[workers].map((t) => t.ms))),
      tokensPerSec: round4((tokens * 1000) / ms),
      cpuMsPerStep: Math.round(cpuMs),
      coresUsed: round4(cpuMs / ms),
      ...(workers === 2 ? { poolStartMs: Math.round(poolStartMs) } : {}),
    };
  });
  const perRound = times[1].map((t, i) => t.ms / times[2][i].ms);
  const auto = resolveWorkers('auto', {
    backend,
    dropout: 0,
    parameters,
    tokensPerStep: tokens,
    rows: batch,
    microBatches: batch / microBatch,
    splittable: true,
  });
  const scaling = threadProbe ? [scalingBefore!, await machineScaling()] : null;
  out.push({
    bench: 'parallel-ratio',
    backend,
    batch,
    microBatch,
    split: microBatch === batch,
    cpus: availableParallelism(),
    tokensPerSec1: round4((tokens * 1000) / median(times[1].map((t) => t.ms))),
    tokensPerSec2: round4((tokens * 1000) / median(times[2].map((t) => t.ms))),
    workers2OverWorkers1: round4(median(perRound)),
    bestOverBest: round4(Math.min(...times[1].map((t) => t.ms)) / Math.min(...times[2].map((t) => t.ms))),
    perRound: perRound.map(round4),
    threadScaling: scaling ? scaling.map((m) => round4(m.compute)) : null,
    memoryScaling: scaling ? scaling.map((m) => round4(m.memory)) : null,
    target: 1.7,
    maxAbsDiffWeights: maxDiff,
    loadavg1Before: round4(loadBefore),
    loadavg1After: round4(loadavg()[0]),
    auto: auto.reason,
    ...(ceilingCase && {
      ceiling: {
        // 1-worker step over the 2 workers' shard gradients alone, per round; and what this run reached of it
        workers2OverWorkers1: round4(median(ceilingCase.times.map((t, i) => times[1][i].ms / t.two))),
        reached: round4(median(perRound) / median(ceilingCase.times.map((t, i) => times[1][i].ms / t.two))),
        // the two shards at once over one shard alone, as throughput (2 = the same speed side by side)
        concurrency: round4(median(ceilingCase.times.map((t) => (2 * t.one) / t.two))),
        msOneShard: round4(median(ceilingCase.times.map((t) => t.one))),
        msTwoShards: round4(median(ceilingCase.times.map((t) => t.two))),
      },
    }),
    ...(weakCase && {
      weak: {
        batch2: 2 * batch,
        tokensPerSec2: round4((2 * tokens * 1000) / median(weakCase.ms)),
        // tokens/s of 2 workers on twice the batch over 1 worker's, per round
        workers2OverWorkers1: round4(median(weakCase.ms.map((m, i) => (2 * times[1][i].ms) / m))),
        perRound: weakCase.ms.map((m, i) => round4((2 * times[1][i].ms) / m)),
      },
    }),
  });
  return out;
}

/**
 * One optimizer step of `train` (its 'step' event's ms) and the process CPU time from its 'start' event to its
 * 'step' event (all threads: the workers' too).
 */
async function timeStep(
  model: Transformer,
  chains: EncodedChain[],
  config: {
    epochs: number;
    batchSize: number;
    microBatchSize: number;
    learningRate: number;
    workers: number;
  },
  seqLen: number,
  pool: GradientPool | undefined,
): Promise<StepTime> {
  const cpuNow = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  let cpu0 = 0;
  const t: StepTime = { ms: Number.NaN, cpuMs: Number.NaN };
  await train(
    model,
    { train: chains },
    { ...config, evalEvery: 0, saveEvery: 0 },
    {
      seqLen,
      maxSteps: 1,
      parallel: pool && { pool },
      onEvent: (e) => {
        if (e.type === 'start') cpu0 = cpuNow();
        if (e.type === 'step') Object.assign(t, { ms: e.ms, cpuMs: cpuNow() - cpu0 });
      },
    },
  );
  return t;
}

/** The first batch `train` makes of `chains` at its defaults (trainer.ts batchOptions). */
function firstBatch(chains: EncodedChain[], batchSize: number, seqLen: number): HostBatch {
  const { seed, stepSkipProb } = resolveTrainConfig({ batchSize });
  const it = batches(chains, { batchSize, seqLen, seed, stepSkipProb, epoch: 0, padId: 0, trim: true });
  return it.next().value as HostBatch;
}

/**
 * Loops a probe thread runs, leaving a result in x: the integer one stays in registers; the memory one copies the
 * 32 MB halves of a 64 MB array into each other (memmove, bound by memory bandwidth, not by the core).
 */
const PROBES = {
  compute: 'let x = 0; for (let i = 0; i < 4e8; i++) x = (x + i * 7) | 0;',
  memory:
    'const h = 1 << 22, a = new Float64Array(2 * h); let x = 0; for (let r = 0; r < 60; r++) { a.copyWithin(r % 2 ? 0 : h, r % 2 ? h : 0, r % 2 ? 2 * h : h); x += a[r]; }',
};

/** `threadScaling` of each probe loop: the cores this process gets now, for work that computes and work that streams. */
async function machineScaling(): Promise<Record<keyof typeof PROBES, number>> {
  return { compute: await threadScaling(PROBES.compute), memory: await threadScaling(PROBES.memory) };
}

/** Throughput of 2 threads over 1 thread, each running `loop` (which leaves its result in x). */
async function threadScaling(loop: string): Promise<number> {
  const code = `const { parentPort } = require('node:worker_threads');
${loop}
parentPort.postMessage(x);`;
  const wall = async (n: number) => {
    const t0 = performance.now();
    await Promise.all(
      Array.from(
        { length: n },
        () => new Promise((done) => new Worker(code, { eval: true }).once('message', done)),
      ),
    );
    return performance.now() - t0;
  };
  const one = [await wall(1)];
  const two = [await wall(2)];
  one.push(await wall(1));
  two.push(await wall(2));
  return (2 * Math.min(...one)) / Math.min(...two); // the least disturbed run of each
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function round4(x: number): number {
  return Number(x.toPrecision(4));
}
