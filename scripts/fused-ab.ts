// Attention's causal op in a training step against the composed form it replaces, in one process so that both sides
// share the machine's phases: `npx tsx scripts/fused-ab.ts --model smollm2-135m --seq 256 --kind mote --pairs 24`.
// One optimizer step at a time on one worker (wasm), alternating (ABBA) the library's kernels with composed ones
// re-registered in their place: the causal attention op as batched products over the whole (T, S) blocks with the
// backend's Add and Softmax forward, as attention ran before it. One JSON line per pair, then the paired ratio
// fused / composed (median, mean) and how many pairs the fused step won. tf.profile cannot settle this: its time
// for an op whose body is other kernels counts their profiling too.
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { runJsKernel } from '../src/backend/kernels/js-kernel.js';
import { maskedSoftmaxComposed } from '../src/backend/kernels/masked-softmax.js';
import { selectBackend } from '../src/backend/select-node.js';
import { SCALE_SHAPES, type ScaleShape } from '../src/bench/scale-shapes.js';
import { syntheticChains } from '../src/bench/train.js';
import { attachExperts } from '../src/experts/attach.js';
import { resolveModelConfig } from '../src/model/config.js';
import { maskedSoftmax } from '../src/model/fused/masked-softmax.js';
import { Transformer } from '../src/model/transformer.js';
import { train } from '../src/train/trainer-node.js';

const { values: a } = parseArgs({
  options: {
    model: { type: 'string', default: 'smollm2-135m' },
    seq: { type: 'string', default: '256' },
    kind: { type: 'string', default: 'mote' },
    pairs: { type: 'string', default: '24' },
  },
});
const seq = Number(a.seq);
const print = (r: object) => process.stdout.write(`${JSON.stringify(r)}\n`);

await selectBackend({ backend: 'wasm' });
const config = resolveModelConfig({ ...SCALE_SHAPES[a.model as ScaleShape], maxSeqLen: Math.max(2048, seq) });
const model = Transformer.init(config, 0, { trainable: false });
attachExperts(model, { kind: a.kind as 'mote' | 'lora', rank: 16, seed: 0 });
const chains = syntheticChains(64, seq, config.vocabSize, `scale-${a.model}`);
let next = 0;
/** One optimizer step on the next chain; its ms by the trainer's step event. */
async function step(): Promise<number> {
  let ms = 0;
  const chain = chains[next++ % chains.length];
  const cfg = { epochs: 1, batchSize: 1, learningRate: 1e-4, evalEvery: 0, saveEvery: 0, workers: 1 };
  await train(model, { train: [chain] }, cfg, {
    seqLen: seq,
    groupByLength: false,
    onEvent: (e) => {
      if (e.type === 'step') ms = e.ms;
    },
  });
  return ms;
}

// the composed forms, as wasm kernels of the same names and signatures
const t = (x: tf.TensorInfo | undefined) => x as unknown as tf.Tensor;
type Args = Parameters<tf.KernelFunc>[0];
/** Attention's (E, group·T, S) blocks from the op's inputs and attributes. */
const dims = ({ inputs, attrs }: Args) => {
  const { q, k } = inputs as Record<string, tf.TensorInfo>;
  const { nh, B } = attrs as unknown as { nh: number; B: number };
  const [E, GT] = q.shape;
  return { E, GT, S: k.shape[1], B, nh, T: GT / (nh / (E / B)) };
};
const composed: Record<string, tf.KernelFunc> = {
  MoteMaskedSoftmax: ({ inputs }: Args) =>
    tf.tidy(() =>
      maskedSoftmaxComposed(t(inputs.scores) as tf.Tensor4D, t(inputs.mask) as tf.Tensor2D),
    ) as never,
  MoteCausalAttention: (args: Args) =>
    tf.tidy(() => {
      const { q, k, v, mask } = args.inputs as Record<string, tf.TensorInfo>;
      const { E, GT, S, B, nh, T } = dims(args);
      const scores = tf.reshape(tf.matMul(t(q), t(k), false, true), [B, nh, T, S]) as tf.Tensor4D;
      const p = tf.reshape(maskedSoftmax(scores, t(mask) as tf.Tensor2D, { causal: true }), [E, GT, S]);
      return [tf.matMul(p, t(v)), p];
    }) as never,
  MoteCausalAttentionGrad: (args: Args) =>
    tf.tidy(() => {
      const { dy, q, k, v, p } = args.inputs as Record<string, tf.TensorInfo>;
      const { E, GT, S, B, nh, T } = dims(args);
      const dp = tf.reshape(tf.matMul(t(dy), t(v), false, true), [B, nh, T, S]);
      const p4 = tf.reshape(t(p), [B, nh, T, S]);
      const ds = tf.reshape(runJsKernel<tf.Tensor>('MoteSoftmaxGrad', { dy: dp, p: p4 }, {}), [E, GT, S]);
      const dq = tf.matMul(ds, t(k));
      const dk = tf.matMul(tf.transpose(ds, [0, 2, 1]), t(q));
      return [dq, dk, tf.matMul(tf.transpose(t(p), [0, 2, 1]), t(dy))];
    }) as never,
};
const library = new Map(Object.keys(composed).map((n) => [n, tf.getKernel(n, 'wasm')!]));
function use(side: 'fused' | 'composed'): void {
  for (const [name, config] of library) {
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel(side === 'fused' ? config : { ...config, kernelFunc: composed[name] });
  }
}

for (const side of ['fused', 'composed'] as const) {
  use(side);
  await step(); // warm-up
}
const ratios: number[] = [];
for (let i = 0; i < Number(a.pairs); i++) {
  const ms: Record<string, number> = {};
  for (const side of i % 2 ? (['composed', 'fused'] as const) : (['fused', 'composed'] as const)) {
    use(side);
    ms[side] = await step();
  }
  ratios.push(ms.fused / ms.composed);
  print({ pair: i, fusedMs: Math.round(ms.fused), composedMs: Math.round(ms.composed) });
}
use('fused');
const sorted = [...ratios].sort((x, y) => x - y);
print({
  bench: 'fused-ab',
  model: a.model,
  seq,
  kind: a.kind,
  pairs: ratios.length,
  fusedOverComposed: {
    median: Number(sorted[Math.floor(sorted.length / 2)].toFixed(3)),
    mean: Number((ratios.reduce((x, y) => x + y, 0) / ratios.length).toFixed(3)),
  },
  fusedFaster: ratios.filter((r) => r < 1).length,
});
model.dispose();
