// The top-k selection of the learned gate (src/experts/top-k-router.ts) as a custom op whose gradient is zero:
// TopK has no gradient in tfjs, so gradients reach the gate only through the kept softmax values, and no
// gradient-less op sits on the tape. The body is tf ops, registered for every backend.
import * as tf from '@tensorflow/tfjs';
import { KERNEL_BACKENDS } from './backends.js';
import { opKernelConfigs } from './js-kernel.js';
import type { KernelSet } from './types.js';

/** The op: input probs (N, E); attrs { k }; output (N, E), 1 on each row's k largest entries, else 0. */
export const TOP_K_MASK = 'MoteTopKMask';

export const topKMaskKernels: KernelSet = {
  kernels: opKernelConfigs(
    TOP_K_MASK,
    ({ probs }, attrs) => {
      const p = probs as tf.Tensor2D; // (N, E)
      const { k } = attrs as { k: number };
      const { indices } = tf.topk(p, k); // (N, k)
      // summed in float32: a sum over the middle axis transposes first, which tfjs-backend-webgpu 4.22 cannot do for
      // an int32 buffer inside its own kernels (webgpu-int32.ts)
      return tf.sum(tf.cast(tf.oneHot(indices, p.shape[1]), 'float32'), 1); // (N, k, E) → (N, E)
    },
    KERNEL_BACKENDS,
  ),
  gradients: [
    {
      kernelName: TOP_K_MASK,
      inputsToSave: ['probs'],
      gradFunc: (_dy, saved) => ({ probs: () => tf.zerosLike(saved[0]) }),
    },
  ],
};
