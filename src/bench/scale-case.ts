// One case of the `scale` suite (scale.ts), run in a process of its own so that its peak RSS and wasm heap are its
// own: a model of a real shape with random seeded weights, one adapter kind, `warmup + steps` optimizer steps of
// the real `train` loop on `batch` rows of `seq` tokens (split between the workers, one row each when batch =
// workers). Prints one JSON line per step and one summary line.
//   node [tsx] src/bench/scale-case.ts '{"shape":"smollm2-135m","seq":256,"experts":"mote","backend":"wasm",...}'
import * as tf from '@tensorflow/tfjs';
import { measureMemory } from '../backend/memory.js';
import { selectBackend } from '../backend/select-node.js';
import { attachExperts } from '../experts/attach.js';
import { resolveModelConfig } from '../model/config.js';
import { estimateMemory } from '../model/memory.js';
import { Transformer } from '../model/transformer.js';
import { train } from '../train/trainer-node.js';
import { SCALE_SHAPES, type ScaleCase } from './scale-shapes.js';
import { syntheticChains } from './train.js';

const MB = 2 ** 20;
const c = JSON.parse(process.argv[2] ?? '{}') as ScaleCase;
const print = (r: object) => process.stdout.write(`${JSON.stringify(r)}\n`);
const memory = () => {
  const m = measureMemory();
  const mb = (b: number | null) => (b === null ? null : Math.round(b / MB));
  return { rssMB: mb(m.rssBytes), peakRssMB: mb(m.maxRssBytes), wasmHeapMB: mb(m.wasmHeapBytes) };
};

await selectBackend({ backend: c.backend as 'wasm' });
const config = resolveModelConfig({ ...SCALE_SHAPES[c.shape], maxSeqLen: Math.max(2048, c.seq) });
const model = Transformer.init(config, 0, { trainable: false });
const attached = attachExperts(model, { kind: c.experts, rank: c.rank, seed: 0 });
const estimate = estimateMemory(config, {
  seqLen: c.seq,
  batchSize: c.batch / c.workers, // a worker's rows (each worker has a heap of its own)
  rank: c.rank,
  trainableParameters: attached.parameterCount,
  expertsPerToken: c.experts === 'mote' ? 2 : 1,
}).backends.wasm.training.total;
const loaded = memory();
const chains = syntheticChains((c.warmup + c.steps) * c.batch, c.seq, config.vocabSize, `scale-${c.shape}`);
const steps: { ms: number; cpuMs: number }[] = [];
let c0 = process.cpuUsage();
await train(
  model,
  { train: chains },
  { epochs: 1, batchSize: c.batch, learningRate: 1e-4, evalEvery: 0, saveEvery: 0, workers: c.workers },
  {
    seqLen: c.seq,
    groupByLength: false,
    onEvent: (e) => {
      if (e.type === 'start') c0 = process.cpuUsage();
      if (e.type !== 'step') return;
      const d = process.cpuUsage(c0);
      c0 = process.cpuUsage();
      const cpuMs = (d.user + d.system) / 1000;
      steps.push({ ms: e.ms, cpuMs });
      print({
        bench: 'scale-step',
        shape: c.shape,
        seq: c.seq,
        experts: c.experts,
        workers: c.workers,
        step: e.step,
        ms: Math.round(e.ms),
        loss: Number(e.loss.toFixed(4)),
        ...memory(),
      });
    },
  },
);
const timed = steps.slice(c.warmup);
const ms = timed.map((s) => s.ms).sort((a, b) => a - b);
const median = ms[Math.floor(ms.length / 2)];
const tokens = c.seq * c.batch; // per step
const round = (x: number) => Number(x.toPrecision(4));
print({
  bench: 'scale',
  backend: tf.getBackend(),
  shape: c.shape,
  baseParameters: model.parameterCount() - attached.parameterCount,
  trainableParameters: attached.parameterCount,
  experts: c.experts,
  rank: c.rank,
  seq: c.seq,
  batch: c.batch,
  workers: c.workers,
  warmup: c.warmup,
  timedSteps: timed.length,
  msPerStep: round(median),
  msRange: [round(ms[0]), round(ms[ms.length - 1])],
  tokensPerSec: round((tokens * 1000) / median),
  tokensPerSecRange: [round((tokens * 1000) / ms[ms.length - 1]), round((tokens * 1000) / ms[0])],
  cpuMsPerStep: round(timed.map((s) => s.cpuMs).sort((a, b) => a - b)[Math.floor(timed.length / 2)]),
  estimateMB: Math.round(estimate / MB),
  loadedRssMB: loaded.rssMB,
  ...memory(),
});
model.dispose();
