// Memory of training at real shapes: `npx tsx scripts/scale-memory.ts --model smollm2-135m --seq 256 --steps 4`
// [--checkpointing] (activation checkpointing: TrainConfig.activationCheckpointing).
// One JSON line per phase and per step: the wasm heap (its size never shrinks, so it is the high-water mark), the
// engine's live tensor bytes now and at their peak during the step, RSS and the JS heap.
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/backend/select-node.js';
import { SCALE_SHAPES, type ScaleShape } from '../src/bench/scale-shapes.js';
import { syntheticChains } from '../src/bench/train.js';
import { attachExperts } from '../src/experts/attach.js';
import { resolveModelConfig } from '../src/model/config.js';
import { Transformer } from '../src/model/transformer.js';
import { train } from '../src/train/trainer-node.js';

const { values: a } = parseArgs({
  options: {
    model: { type: 'string', default: 'smollm2-135m' },
    seq: { type: 'string', default: '256' },
    batch: { type: 'string', default: '1' },
    steps: { type: 'string', default: '4' },
    kind: { type: 'string', default: 'mote' },
    backend: { type: 'string', default: 'wasm' },
    checkpointing: { type: 'boolean', default: false },
  },
});

await selectBackend({ backend: a.backend as 'wasm' });
const MB = 2 ** 20;
const heap = () => {
  const b = tf.backend() as unknown as { wasm?: { HEAPU8: Uint8Array } };
  return b.wasm ? b.wasm.HEAPU8.buffer.byteLength / MB : 0;
};
// tensor memory as the wasm backend allocates it (engine numBytes counts a shared clone twice): its JS-side
// malloc/free, which every tensor buffer goes through; XNNPACK's own allocations (packed weights) are not seen
let peak = 0;
let live = 0;
const wasmModule = (
  tf.backend() as unknown as {
    wasm: {
      _malloc(n: number): number;
      _free(p: number): void;
      asm: { malloc(n: number): number; free(p: number): void };
    };
  }
).wasm;
const sizes = new Map<number, number>();
// the module's own _malloc replaces itself by the raw export on its first call: wrap the export
const malloc = wasmModule.asm.malloc;
const free = wasmModule.asm.free;
wasmModule._malloc = (n: number) => {
  const p = malloc(n);
  sizes.set(p >>> 0, n);
  live += n;
  if (live > peak) peak = live;
  return p;
};
wasmModule._free = (p: number) => {
  live -= sizes.get(p >>> 0) ?? 0;
  sizes.delete(p >>> 0);
  free(p);
};
const engine = tf.engine();
// the end of the forward inside tfjs's gradients(): live bytes then = persistent + the tensors saved for the backward
const eng = engine as unknown as {
  endTape: () => void;
  state: {
    numBytes: number;
    gradientDepth: number;
    activeTape: { kernelName: string; saved?: tf.Tensor[] }[] | null;
  };
};
const endTape = eng.endTape.bind(eng);
let afterForward = 0;
let forwardPeak = 0;
let savedBy: Record<string, number> = {};
let forwardSeen = false; // the step's forward ends the first tape; with checkpointing, recomputes end more
eng.endTape = () => {
  if (eng.state.gradientDepth === 1 && !forwardSeen) {
    forwardSeen = true;
    afterForward = live;
    forwardPeak = peak;
    const seen = new Set<unknown>();
    savedBy = {};
    for (const n of eng.state.activeTape ?? [])
      for (const t of n.saved ?? []) {
        if (seen.has(t.dataId)) continue;
        seen.add(t.dataId);
        savedBy[n.kernelName] = (savedBy[n.kernelName] ?? 0) + t.size * 4;
      }
  }
  endTape();
};
const report = (phase: string, extra: object = {}) => {
  const m = process.memoryUsage();
  const line = {
    phase,
    heapMB: Math.round(heap()),
    tensorMB: Math.round(live / MB),
    peakTensorMB: Math.round(peak / MB),
    numTensors: tf.memory().numTensors,
    rssMB: Math.round(m.rss / MB),
    jsHeapMB: Math.round(m.heapUsed / MB),
    externalMB: Math.round(m.external / MB),
    ...extra,
  };
  process.stdout.write(`${JSON.stringify(line)}\n`);
};
report('start');
const config = resolveModelConfig({ ...SCALE_SHAPES[a.model as ScaleShape], maxSeqLen: 2048 });
const model = Transformer.init(config, 0, { trainable: false });
report('model');
attachExperts(model, { kind: a.kind as 'mote', rank: 16, seed: 0 });
report('experts');
const seq = Number(a.seq);
const batch = Number(a.batch);
const chains = syntheticChains(batch * Number(a.steps), seq, config.vocabSize, 'scale-memory');
peak = live;
await train(
  model,
  { train: chains },
  {
    epochs: 1,
    batchSize: batch,
    learningRate: 1e-4,
    evalEvery: 0,
    saveEvery: 0,
    workers: 1,
    activationCheckpointing: a.checkpointing,
  },
  {
    seqLen: seq,
    groupByLength: false,
    onEvent: (e) => {
      if (e.type === 'step') {
        report(`step ${e.step}`, {
          afterForwardMB: Math.round(afterForward / MB),
          forwardPeakMB: Math.round(forwardPeak / MB),
          savedMB: Object.fromEntries(
            Object.entries(savedBy)
              .map(([k, v]) => [k, Math.round(v / MB)])
              .filter(([, v]) => (v as number) > 0),
          ),
          ms: Math.round(e.ms),
          tokensPerSec: Number(e.tokensPerSec.toFixed(1)),
        });
        peak = live;
        forwardSeen = false;
      }
    },
  },
);
report('done');
