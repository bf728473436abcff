// Fused RMSNorm: one pass per row forward and one backward (the kernels: src/backend/kernels/rms-norm.ts), instead
// of square → mean → add → rsqrt → mul → mul and their taped gradients; composed tf ops on other backends.
import * as tf from '@tensorflow/tfjs';
import { jsKernelsActive } from '../../backend/kernels/backends.js';
import { RMS_NORM } from '../../backend/kernels/rms-norm.js';
import { runKernel } from '../../backend/kernels/run.js';

/** The composed reference: x: (N, d), w: (d) → (N, d). */
export function rmsNormComposed(x: tf.Tensor2D, w: tf.Tensor1D, eps: number): tf.Tensor2D {
  const ms = tf.mean(tf.square(x), -1, true); // (N, 1)
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(ms, eps))), w) as tf.Tensor2D;
}

/** RMSNorm of the rows of x (N, d) with gain w (d): the fused kernel on wasm/cpu, composed tf ops elsewhere. */
export function rmsNorm(x: tf.Tensor2D, w: tf.Tensor1D, eps: number): tf.Tensor2D {
  if (!jsKernelsActive()) return rmsNormComposed(x, w, eps);
  return runKernel(RMS_NORM, { x, w }, { eps });
}
