// The kernels of attention's softmax with its mask as one op (src/model/fused/masked-softmax.ts):
// probabilities = softmax(scores + mask) over the keys, forward on the backend's own add and softmax kernels (C++
// on wasm: a JS exp costs several times wasm's expf), backward in one JS pass per row, dscores = p ⊙ (dp − ⟨p, dp⟩),
// instead of tfjs's composed softmax gradient (four passes over the largest tensor of a training step) and the
// add's. scores (B, G, T, S), G = heads; mask (T, S), shared by the batch, or (B, T, S), one per sequence. On wasm
// the backward runs in SIMD (backend/simd/softmax.wat).
import * as tf from '@tensorflow/tfjs';
import { jsKernelConfigs, opKernelConfigs, runJsKernel } from './js-kernel.js';
import type { KernelSet } from './types.js';

/** The op: inputs scores (B, G, T, S), mask (T, S) or (B, T, S); output (B, G, T, S). */
export const MASKED_SOFTMAX = 'MoteMaskedSoftmax';
const BACKWARD = 'MoteSoftmaxGrad';

/** The composed reference: softmax(scores + mask), mask broadcast over the heads. */
export function maskedSoftmaxComposed(scores: tf.Tensor4D, mask: tf.Tensor2D | tf.Tensor3D): tf.Tensor4D {
  const [B, , T, S] = scores.shape;
  const m = mask.rank === 3 ? tf.reshape(mask, [B, 1, T, S]) : mask; // (B, 1, T, S) or (T, S)
  return tf.softmax(tf.add(scores, m)) as tf.Tensor4D;
}

export const maskedSoftmaxKernels: KernelSet = {
  kernels: [
    ...opKernelConfigs(MASKED_SOFTMAX, ({ scores, mask }) =>
      maskedSoftmaxComposed(scores as tf.Tensor4D, mask as tf.Tensor2D | tf.Tensor3D),
    ),
    ...jsKernelConfigs<object>({
      kernelName: BACKWARD,
      inputs: ['dy', 'p'],
      outputShapes: ([dy]) => [dy],
      compute([dy, p], [dx], [shape]) {
        const S = shape[shape.length - 1];
        const rows = dy.length / S;
        for (let r = 0, o = 0; r < rows; r++, o += S) {
          let dot = 0;
          for (let j = o; j < o + S; j++) dot += p[j] * dy[j];
          for (let j = o; j < o + S; j++) dx[j] = p[j] * (dy[j] - dot);
        }
      },
      simd(k, [dy, p], [dx], [shape]) {
        const S = shape[shape.length - 1];
        k.softmax_grad(dx, dy, p, tf.util.sizeFromShape(shape) / S, S);
      },
    }),
  ],
  gradients: [
    {
      kernelName: MASKED_SOFTMAX,
      inputsToSave: ['mask'],
      outputsToSave: [true],
      gradFunc: (dy, [mask, p]) => ({
        scores: () => runJsKernel(BACKWARD, { dy: dy as tf.Tensor, p }),
        mask: () => tf.zerosLike(mask), // masks are constants; never on a gradient path in practice
      }),
    },
  ],
};
