// The output head's softmax over a vocabulary chunk (head-nll.ts), in two passes per row (one for the gradient)
// where tf ops make five (three) over an (N, n) block of logits:
//   rowLogSumExp:  lse[r] = log Σ_j exp(x[r, j])                 (tf: max, sub, exp, sum, log, add)
//   softmaxScaled: g[r, j] = exp(x[r, j] − lse[r])·s[r]          (tf: sub, exp, mul)
// The head makes N·V exponentials a step, which tfjs's wasm Exp computes one scalar at a time; here wasm runs them
// in SIMD (backend/simd/logsumexp.wat, a float32 polynomial exp); `compute` is the reference and the cpu backend's.
// Both run inside the head's own kernel, which has its gradient: they have none. Other backends keep the tf ops.
import * as tf from '@tensorflow/tfjs';
import { jsKernelsActive } from './backends.js';
import { jsKernelConfigs, runJsKernel } from './js-kernel.js';
import type { KernelSet } from './types.js';

const ROW_LSE = 'MoteRowLogSumExp';
const SOFTMAX_SCALED = 'MoteSoftmaxScaled';

export const rowSoftmaxKernels: KernelSet = {
  kernels: [
    ...jsKernelConfigs<object>({
      kernelName: ROW_LSE,
      inputs: ['x'],
      outputShapes: ([[N]]) => [[N]],
      compute([x], [lse], [[N, n]]) {
        for (let r = 0, o = 0; r < N; r++, o += n) {
          let m = -Infinity;
          for (let j = o; j < o + n; j++) m = x[j] > m || Number.isNaN(x[j]) ? x[j] : m;
          let sum = 0;
          for (let j = o; j < o + n; j++) sum += Math.exp(x[j] - m);
          lse[r] = m + Math.log(sum);
        }
      },
      simd(k, [x], [lse], [[N, n]]) {
        k.row_lse(lse, x, N, n);
      },
    }),
    ...jsKernelConfigs<object>({
      kernelName: SOFTMAX_SCALED,
      inputs: ['x', 'lse', 's'],
      outputShapes: ([x]) => [x],
      compute([x, lse, s], [g], [[N, n]]) {
        for (let r = 0, o = 0; r < N; r++, o += n)
          for (let j = o; j < o + n; j++) g[j] = Math.exp(x[j] - lse[r]) * s[r];
      },
      simd(k, [x, lse, s], [g], [[N, n]]) {
        k.softmax_scale(g, x, lse, s, N, n);
      },
    }),
  ],
};

/** lse (N) of logits x (N, n): log Σ_j exp(x[r, j]) per row. */
export function rowLogSumExp(x: tf.Tensor2D): tf.Tensor1D {
  if (!jsKernelsActive()) return tf.logSumExp(x, 1);
  return runJsKernel(ROW_LSE, { x });
}

/** exp(x − lse)·s, (N, n), from logits x (N, n), their lse (N) and a scale per row s (N): softmax(x)·s. */
export function softmaxScaled(x: tf.Tensor2D, lse: tf.Tensor1D, s: tf.Tensor1D): tf.Tensor2D {
  if (!jsKernelsActive())
    return tf.tidy(() => tf.mul(tf.exp(tf.sub(x, tf.reshape(lse, [-1, 1]))), tf.reshape(s, [-1, 1])));
  return runJsKernel(SOFTMAX_SCALED, { x, lse, s });
}
