// SwiGLU's gating, silu(g) ⊙ u = g·σ(g)·u, as one op that saves only g and u for the backward and recomputes σ(g)
// there. Composed, the tape kept σ(g), g·σ(g), g and u: four (N, hidden) tensors per layer, the largest share of a
// training step's activations at the SmolLM2 shape (docs/performance.md, "Real size"). Forward and backward
// run on the backend's own element-wise kernels (C++ on wasm: a JS exp costs several times wasm's expf, which is
// why a JS SwiGLU kernel was slower than the composed ops).
//   d/dg = dy·u·σ(g)·(1 + g·(1 − σ(g))),   d/du = dy·g·σ(g)
import * as tf from '@tensorflow/tfjs';
import { KERNEL_BACKENDS } from './backends.js';
import { opKernelConfigs } from './js-kernel.js';
import { runKernel } from './run.js';
import type { KernelSet } from './types.js';

export const SWIGLU = 'MoteSwiGlu';

/** The composed reference: silu(g) ⊙ u. */
export function swigluComposed(g: tf.Tensor, u: tf.Tensor): tf.Tensor {
  return tf.mul(tf.mul(g, tf.sigmoid(g)), u);
}

export const swigluKernels: KernelSet = {
  kernels: opKernelConfigs(SWIGLU, ({ g, u }) => swigluComposed(g, u), KERNEL_BACKENDS),
  gradients: [
    {
      kernelName: SWIGLU,
      inputsToSave: ['g', 'u'],
      gradFunc: (dy, [g, u]) => {
        const d = dy as tf.Tensor;
        return {
          g: () => {
            const s = tf.sigmoid(g);
            return tf.mul(tf.mul(tf.mul(d, u), s), tf.add(1, tf.mul(g, tf.sub(1, s))));
          },
          u: () => tf.mul(d, tf.mul(g, tf.sigmoid(g))),
        };
      },
    },
  ],
};

/** silu(g) ⊙ u for g, u of one shape; saves g and u only (see the file header). */
export function swiglu<T extends tf.Tensor>(g: T, u: T): T {
  if (!tf.util.arraysEqual(g.shape, u.shape))
    throw new Error(`swiglu: gate and up differ in shape, [${g.shape}] and [${u.shape}]`);
  return runKernel(SWIGLU, { g, u });
}
