// Attention softmax with its mask as one op: forward on the backend's own add and softmax kernels, backward in one
// pass per row (the kernels: src/backend/kernels/masked-softmax.ts); composed tf ops on other backends. scores
// (B, G, T, S), G = heads; mask (T, S), shared by the batch, or (B, T, S), one per sequence.
import type * as tf from '@tensorflow/tfjs';
import { jsKernelsActive } from '../../backend/kernels/backends.js';
import { MASKED_SOFTMAX, maskedSoftmaxComposed } from '../../backend/kernels/masked-softmax.js';
import { runKernel } from '../../backend/kernels/run.js';

// The composed form is the fused op's forward too, so it is written once, with the kernel.
export { maskedSoftmaxComposed };

/** softmax(scores + mask) over the keys; scores (B, G, T, S), mask (T, S) or (B, T, S). */
export function maskedSoftmax(scores: tf.Tensor4D, mask: tf.Tensor2D | tf.Tensor3D): tf.Tensor4D {
  if (!jsKernelsActive()) return maskedSoftmaxComposed(scores, mask);
  return runKernel(MASKED_SOFTMAX, { scores, mask });
}
