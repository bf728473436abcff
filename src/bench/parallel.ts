// Data-parallel training throughput (issue 9): the d=256, 4-layer preset, MoTE rank 16 (3 step experts + shared on
// all linears), seq 256, batch 8 in one micro-batch (microBatchSize = batchSize, the default: with 2 workers each
// step's micro-batch is split into two shards of 4 rows, parallel/shard.ts), through the real `train` loop with
// workers 1 (in-process) and 2 (GradientPool), side by side in alternating rounds. Reports tokens/s per case, the
// 2-vs-1 ratio (target ≥ 1.7), how far the two runs' weights end apart, what workers 'auto' picks for this
// workload, and the load average (shared machine). `microBatch: 4` measures two whole micro-batches per step.
// `coresUsed` (process CPU time / wall time over the timed steps) tells a slow machine from a slow pool: the pool
// does the same CPU work per step as one thread, so its speed-up is bounded by the cores it actually gets; and
// `threadScaling` (2 threads' throughput over 1 thread's on a plain integer loop, probed every round) is that bound.
// Run alone: mote bench --only parallel [--backend …] — one JSON line per record.
import { availableParallelism, loadavg } from 'node:os';
import { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import type { EncodedChain } from '../aligncot/encode.js';
import { attachExperts } from '../experts/attach.js';
import { resolveModelConfig } from '../model/config.js';
import { Transformer } from '../model/transformer.js';
import { resolveWorkers } from '../train/parallel/auto.js';
import { train, trainableByName } from '../train/trainer.js';
import { syntheticChains } from './train.js';

export interface ParallelBenchOptions {
  /** Untimed steps first (replica warm-up, optimizer slots). Default 1. */
  warmup?: number;
  /** Timed steps per case and round. Default 3. */
  steps?: number;
  /** Rounds; the case order alternates between rounds. Default 3. */
  rounds?: number;
  /** Rows per optimizer step. Default 8. */
  batch?: number;
  /** Rows per micro-batch. Default: `batch` (one micro-batch per step, split between the workers). */
  microBatch?: number;
  /** Tokens per row. Default 256. */
  seqLen?: number;
  rank?: number;
}

/** Records {bench:'parallel', workers, …} per case and round, then {bench:'parallel-ratio', …}. */
export async function benchParallel(opts: ParallelBenchOptions = {}): Promise<object[]> {
  const { warmup = 1, steps = 3, rounds = 3, batch = 8, seqLen = 256, rank = 16 } = opts;
  const microBatch = opts.microBatch ?? batch;
  const backend = tf.getBackend();
  const config = resolveModelConfig({}, 'bench-256');
  const chains = syntheticChains(batch * (warmup + steps), seqLen, config.vocabSize, 'bench-parallel');
  const loadBefore = loadavg()[0];
  const out: Record<string, unknown>[] = [];
  const ms: Record<number, number[]> = { 1: [], 2: [] };
  const scaling: number[] = [];
  let maxDiff = 0;
  for (let round = 0; round < rounds; round++) {
    scaling.push(await threadScaling());
    const finals = new Map<number, Map<string, Float32Array>>();
    for (const workers of round % 2 === 0 ? [1, 2] : [2, 1]) {
      const model = Transformer.init(config, 0, { trainable: false });
      attachExperts(model, { kind: 'mote', rank, seed: 0 });
      const r = await timeSteps(model, chains, { batch, microBatch, seqLen, warmup, steps, workers });
      finals.set(
        workers,
        new Map([...trainableByName(model)].map(([k, v]) => [k, v.dataSync() as Float32Array])),
      );
      model.dispose();
      ms[workers].push(r.ms);
      out.push({
        bench: 'parallel',
        backend,
        model: 'bench-256',
        experts: 'mote',
        seq: seqLen,
        batch,
        microBatch,
        rank,
        workers,
        round,
        timedSteps: steps,
        msPerStep: round4(r.ms),
        tokensPerSec: round4((batch * seqLen * 1000) / r.ms),
        cpuMsPerStep: Math.round(r.cpuMs),
        coresUsed: round4(r.cpuMs / r.ms),
        startMs: Math.round(r.startMs),
        loadavg1: round4(loadavg()[0]),
      });
    }
    for (const [name, a] of finals.get(1)!) {
      const b = finals.get(2)!.get(name)!;
      for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
    }
  }
  // best round of each case: on a shared machine the fastest run is the least disturbed one
  const best = (xs: number[]) => Math.min(...xs);
  const probe = Transformer.init(config, 0, { trainable: false });
  attachExperts(probe, { kind: 'mote', rank, seed: 0 });
  const auto = resolveWorkers('auto', {
    backend,
    dropout: 0,
    parameters: probe.parameterCount(),
    tokensPerStep: batch * seqLen,
    rows: batch,
    microBatches: batch / microBatch,
    splittable: true,
  });
  probe.dispose();
  out.push({
    bench: 'parallel-ratio',
    backend,
    batch,
    microBatch,
    split: microBatch === batch,
    cpus: availableParallelism(),
    tokensPerSec1: round4((batch * seqLen * 1000) / best(ms[1])),
    tokensPerSec2: round4((batch * seqLen * 1000) / best(ms[2])),
    workers2OverWorkers1: round4(best(ms[1]) / best(ms[2])),
    perRound: ms[1].map((m, i) => round4(m / ms[2][i])),
    threadScaling: scaling.map(round4),
    target: 1.7,
    maxAbsDiffWeights: maxDiff,
    loadavg1Before: round4(loadBefore),
    loadavg1After: round4(loadavg()[0]),
    auto: auto.reason,
  });
  return out;
}

/**
 * Median wall ms and process CPU ms of the timed optimizer steps of a `train` run (CPU: between consecutive step
 * events, all threads), and ms from the call to its 'start' event.
 */
async function timeSteps(
  model: Transformer,
  chains: EncodedChain[],
  o: { batch: number; microBatch: number; seqLen: number; warmup: number; steps: number; workers: number },
): Promise<{ ms: number; cpuMs: number; startMs: number }> {
  const times: number[] = [];
  const cpu: number[] = [];
  const cpuNow = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  let lastCpu = cpuNow();
  const t0 = performance.now();
  let startMs = 0;
  const config = {
    epochs: 1,
    batchSize: o.batch,
    microBatchSize: o.microBatch,
    workers: o.workers,
    learningRate: 1e-4,
    evalEvery: 0,
    saveEvery: 0,
  };
  await train(model, { train: chains }, config, {
    seqLen: o.seqLen,
    maxSteps: o.warmup + o.steps,
    onEvent: (e) => {
      if (e.type === 'start') startMs = performance.now() - t0;
      if (e.type !== 'step') return;
      times.push(e.ms);
      cpu.push(cpuNow() - lastCpu);
      lastCpu = cpuNow();
    },
  });
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return { ms: median(times.slice(o.warmup)), cpuMs: median(cpu.slice(o.warmup)), startMs };
}

/** Throughput of 2 threads over 1 thread, each running the same integer loop: the cores this process gets now. */
async function threadScaling(): Promise<number> {
  const code = `const { parentPort } = require('node:worker_threads');
let x = 0;
for (let i = 0; i < 4e8; i++) x = (x + i * 7) | 0;
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

function round4(x: number): number {
  return Number(x.toPrecision(4));
}
