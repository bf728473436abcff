// The Llama forward (GQA, RoPE, RMSNorm, tied head) and its backward with the base trainable, KV-cache decoding
// token by token, and the fused ops' composed forms (what webgpu runs instead of the JS kernels) with their
// gradients, on cpu and webgpu; plus the rank-5 Reverse that tfjs 4.22's webgpu kernel gets wrong.
import * as tf from '@tensorflow/tfjs';
import { topKMask } from '../../../../src/experts/top-k-router.js';
import { resolveModelConfig } from '../../../../src/model/config.js';
import { maskedSoftmax } from '../../../../src/model/fused/masked-softmax.js';
import { rmsNorm } from '../../../../src/model/fused/rms-norm.js';
import { tokenNll } from '../../../../src/model/loss.js';
import { Rope } from '../../../../src/model/rope.js';
import { Transformer } from '../../../../src/model/transformer.js';
import { seededNormal } from '../../../helpers/random.js';
import { compare, onCpuAndWebgpu, type Results, read, useBackend } from './compare.js';
import type { ModelReport } from './types.js';

/** A small GQA model (8 query heads over 2 key/value heads), untied head. */
export const MODEL_CONFIG = resolveModelConfig({
  dim: 32,
  hiddenDim: 72,
  numLayers: 2,
  numHeads: 8,
  numKvHeads: 2,
  vocabSize: 96,
  maxSeqLen: 32,
  tiedEmbeddings: false,
});
const IDS = [
  [1, 17, 5, 44, 9, 3, 71, 2],
  [1, 60, 8, 8, 95, 30, 12, 4],
];

async function modelValues(): Promise<Results> {
  const model = Transformer.init(MODEL_CONFIG, 'webgpu-page', { trainable: true });
  try {
    const logits = model.logits(IDS); // (B, T, V)
    // decoding token by token through the KV cache: each step's logits are the forward's at that position
    const cache = model.newCache(IDS.length);
    const steps: tf.Tensor[] = [];
    for (let t = 0; t < IDS[0].length; t++)
      steps.push(
        model.decode(
          IDS.map((row) => [row[t]]),
          cache,
        ),
      );
    cache.dispose();
    const decoded = tf.stack(steps, 1); // (B, T, V)
    tf.dispose(steps);
    // the backward of the whole model (every base weight trainable, the embedding through tf.gather's gradient)
    const input = model.idsTensor(IDS);
    const targets = tf.tensor1d(
      IDS.flatMap((row) => [...row.slice(1), 0]),
      'int32',
    );
    const vars = model.trainableVariables();
    const { value, grads } = tf.variableGrads(
      () => tf.mean(tokenNll(model.forward(input), targets)) as tf.Scalar,
      vars,
    );
    const named = [...model.namedVariables()].filter(([, v]) => v.trainable);
    const out = await read({
      logits,
      decoded,
      loss: value,
      ...Object.fromEntries(named.map(([n, v]) => [`d${n}`, grads[v.name]])),
    });
    tf.dispose([input, targets]);
    return out;
  } finally {
    model.dispose();
  }
}

/** The fused ops' composed forms on webgpu (their JS kernels on cpu), forward and gradients. */
async function fusedValues(): Promise<Results> {
  const rope = new Rope(8, 16, 10000);
  const tensors = tf.tidy(() => {
    const x = seededNormal([12, 16], 'fused-x') as tf.Tensor2D; // (N, d)
    const w = tf.add(seededNormal([16], 'fused-w', 0.2), 1) as tf.Tensor1D;
    const g = seededNormal([12, 16], 'fused-g') as tf.Tensor2D;
    const scores = seededNormal([2, 4, 3, 5], 'fused-s') as tf.Tensor4D; // (B, G, T, S)
    const mask = tf.tensor3d(
      Array.from({ length: 2 * 3 * 5 }, (_, i) => (i % 7 === 3 ? -1e9 : 0)),
      [2, 3, 5],
    ); // (B, T, S)
    const gs = seededNormal([2, 4, 3, 5], 'fused-gs') as tf.Tensor4D;
    const logits = seededNormal([6, 11], 'fused-l', 2) as tf.Tensor2D;
    const targets = tf.tensor1d([0, 10, 3, 11, -1, 7], 'int32'); // two out of range: nll 0
    const heads = seededNormal([2 * 3, 2 * 8], 'fused-h') as tf.Tensor2D; // (B·T, H·hs)
    const gh = seededNormal([2, 2, 3, 8], 'fused-gh') as tf.Tensor4D;
    const probs = tf.softmax(seededNormal([7, 5], 'fused-p')) as tf.Tensor2D;
    const sum = (f: (a: tf.Tensor) => tf.Tensor, a: tf.Tensor, probe: tf.Tensor) =>
      tf.grad((t: tf.Tensor) => tf.sum(tf.mul(f(t), probe)))(a);
    return {
      rmsNorm: rmsNorm(x, w, 1e-5),
      rmsNormDx: sum((t) => rmsNorm(t as tf.Tensor2D, w, 1e-5), x, g),
      rmsNormDw: sum((t) => rmsNorm(x, t as tf.Tensor1D, 1e-5), w, g),
      maskedSoftmax: maskedSoftmax(scores, mask),
      maskedSoftmaxD: sum((t) => maskedSoftmax(t as tf.Tensor4D, mask), scores, gs),
      tokenNll: tokenNll(logits, targets),
      tokenNllD: tf.grad((t: tf.Tensor) => tf.sum(tokenNll(t as tf.Tensor2D, targets)))(logits),
      rope: rope.heads(heads, 2, 3, 2, 5, 0.5),
      ropeD: sum((t) => rope.heads(t as tf.Tensor2D, 2, 3, 2, 5, 0.5), heads, gh),
      topKMask: topKMask(probs, 2),
    };
  });
  rope.dispose();
  return read(tensors);
}

/**
 * What the shims fix: Reverse of rank 5 and 6 tensors over assorted axes; int32 transposes of several ranks, large
 * enough (and made on the device) that tfjs does not do them on the CPU; a sum over the middle axis of a tensor cast
 * from int32; an AddN of more tensors than a shader may bind.
 */
async function shimValues(): Promise<Results> {
  const tensors = tf.tidy(() => {
    const x5 = seededNormal([2, 3, 2, 2, 2], 'rev5');
    const x6 = seededNormal([2, 2, 3, 1, 2, 3], 'rev6');
    const ints = (shape: number[]) => tf.cast(tf.mul(seededNormal(shape, `int${shape}`), 1000), 'int32');
    const i3 = ints([10, 12, 11]);
    return {
      last: tf.reverse(x5, -1),
      first: tf.reverse(x5, 0),
      alternating: tf.reverse(x6, [0, 2, 4]),
      all: tf.reverse(x6, [0, 1, 2, 3, 4, 5]),
      x5,
      x6,
      int2: tf.transpose(ints([40, 30])),
      int3: tf.transpose(i3, [0, 2, 1]),
      int5: tf.transpose(ints([3, 4, 5, 2, 6]), [4, 0, 3, 1, 2]),
      castSum: tf.sum(tf.cast(i3, 'float32'), 1), // transposed inside tfjs's Sum: a float32 buffer after the cast
      addN: tf.addN(Array.from({ length: 23 }, (_, i) => tf.mul(x5, i + 1))), // more inputs than storage bindings
    };
  });
  return read(tensors);
}

export async function modelCheck(): Promise<ModelReport> {
  const parts = {
    model: await onCpuAndWebgpu(modelValues),
    fused: await onCpuAndWebgpu(fusedValues),
    shims: await onCpuAndWebgpu(shimValues),
  };
  const comparisons = [
    ...parts.model.comparisons.map((c) => ({ ...c, name: `model / ${c.name}` })),
    ...parts.fused.comparisons.map((c) => ({ ...c, name: `fused / ${c.name}` })),
    ...parts.shims.comparisons.map((c) => ({ ...c, name: `shims / ${c.name}` })),
  ];
  // decoding equals the forward on each backend, not only across them
  for (const backend of ['cpu', 'webgpu']) {
    const r = parts.model.results[backend];
    comparisons.push(
      ...compare({ decoded: r.decoded }, { decoded: r.logits }, `model / ${backend} decode vs forward / `),
    );
  }
  const sumOf = (k: string) => parts.model.leaked[k] + parts.fused.leaked[k] + parts.shims.leaked[k];
  const msOf = (k: string) => parts.model.ms[k] + parts.fused.ms[k] + parts.shims.ms[k];
  return {
    comparisons,
    leaked: { cpu: sumOf('cpu'), webgpu: sumOf('webgpu') },
    ms: { cpu: msOf('cpu'), webgpu: msOf('webgpu') },
    originalReverse: await originalReverseOutcome(parts.shims.results.cpu.last),
  };
}

/** What tfjs's own webgpu Reverse (the kernel the shim replaces, put back briefly) does with a rank-5 tensor. */
async function originalReverseOutcome(cpuLast: ArrayLike<number>): Promise<ModelReport['originalReverse']> {
  await useBackend('webgpu');
  const shim = tf.getKernel('Reverse', 'webgpu')!;
  tf.unregisterKernel('Reverse', 'webgpu');
  tf.registerKernel(originalReverse!);
  const x5 = seededNormal([2, 3, 2, 2, 2], 'rev5');
  try {
    const y = tf.reverse(x5, -1);
    const v = await y.data();
    y.dispose();
    let error = 0;
    for (let i = 0; i < v.length; i++) error = Math.max(error, Math.abs(v[i] - cpuLast[i]));
    return { error };
  } catch (e) {
    return { threw: (e as Error).message };
  } finally {
    x5.dispose();
    tf.unregisterKernel('Reverse', 'webgpu');
    tf.registerKernel(shim);
  }
}

let originalReverse: tf.KernelConfig | undefined;
/** Keeps tfjs's own webgpu Reverse; call before registerKernels replaces it. */
export function keepOriginalReverse(): void {
  originalReverse = tf.getKernel('Reverse', 'webgpu');
}
