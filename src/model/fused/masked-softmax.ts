// Attention softmax with its mask as one op: forward on the backend's own add and softmax kernels, backward in one
// pass per row (the kernels: src/backend/kernels/masked-softmax.ts); composed tf ops on other backends. scores
// (B, G, T, S), G = heads; mask (T, S), shared by the batch, or (B, T, S), one per sequence.
import type * as tf from '@tensorflow/tfjs';
import { jsKernelsActive } from '../../backend/kernels/backends.js';
import {
  MASKED_SOFTMAX,
  type MaskedSoftmaxAttrs,
  maskedSoftmaxComposed,
} from '../../backend/kernels/masked-softmax.js';
import { runKernel } from '../../backend/kernels/run.js';

// The composed form is the fused op's forward too, so it is written once, with the kernel.
export { maskedSoftmaxComposed };

/**
 * softmax(scores + mask) over the keys; scores (B, G, T, S), mask (T, S) or (B, T, S). `causal`: the caller's
 * mask hides (MASKED) every key after each query's position, j > t + S − T, as attention's masks do; those
 * probabilities are then 0 without being computed (on wasm). Default false.
 */
export function maskedSoftmax(
  scores: tf.Tensor4D,
  mask: tf.Tensor2D | tf.Tensor3D,
  { causal = false }: { causal?: boolean } = {},
): tf.Tensor4D {
  const [, , T, S] = scores.shape;
  if (causal && S < T)
    throw new Error(
      `maskedSoftmax: a causal mask needs at least as many keys as queries, got T ${T}, S ${S}`,
    );
  if (!jsKernelsActive()) return maskedSoftmaxComposed(scores, mask);
  const attrs: MaskedSoftmaxAttrs = { causal };
  return runKernel(MASKED_SOFTMAX, { scores, mask }, attrs);
}
