// Ops whose gradients need only shapes, written so that the tape saves nothing for them. tfjs's own Reshape and Add
// save their inputs for the backward just to read their shapes, which keeps alive tensors nothing else needs: in a
// training step at the SmolLM2 shape, attention's (B, heads, T, T) scores (held by the reshape that follows the
// product), the projections' outputs (by the residual and bias adds): a large share of a step's memory
// (docs/performance.md, "Real size"). Here the shapes travel in the attributes. The forwards are the
// backend's own kernels (a reshape stays a view).
import * as tf from '@tensorflow/tfjs';
import { KERNEL_BACKENDS } from './backends.js';
import { opKernelConfigs } from './js-kernel.js';
import { runKernel } from './run.js';
import type { KernelSet } from './types.js';

const RESHAPE = 'MoteReshape';
const ADD = 'MoteAddSame';
const BIAS_ADD = 'MoteBiasAdd';

export const shapeOnlyKernels: KernelSet = {
  kernels: [
    ...opKernelConfigs(
      RESHAPE,
      ({ x }, attrs) => tf.reshape(x, (attrs as { shape: number[] }).shape),
      KERNEL_BACKENDS,
    ),
    ...opKernelConfigs(ADD, ({ a, b }) => tf.add(a, b), KERNEL_BACKENDS),
    ...opKernelConfigs(BIAS_ADD, ({ y, bias }) => tf.add(y, bias), KERNEL_BACKENDS),
  ],
  gradients: [
    {
      kernelName: RESHAPE,
      gradFunc: (dy, _saved, attrs) => ({
        x: () => tf.reshape(dy as tf.Tensor, (attrs as unknown as { inShape: number[] }).inShape),
      }),
    },
    {
      kernelName: ADD,
      gradFunc: (dy) => ({ a: () => tf.clone(dy as tf.Tensor), b: () => tf.clone(dy as tf.Tensor) }),
    },
    {
      kernelName: BIAS_ADD,
      gradFunc: (dy) => ({ y: () => tf.clone(dy as tf.Tensor), bias: () => tf.sum(dy as tf.Tensor, 0) }),
    },
  ],
};

/** x reshaped to `shape` (a view where the backend allows), saving nothing for the backward. */
export function reshapeView<R extends tf.Rank>(x: tf.Tensor, shape: number[]): tf.Tensor<R> {
  const resolved = tf.util.inferFromImplicitShape(shape, x.size);
  if (tf.util.sizeFromShape(resolved) !== x.size)
    throw new Error(`reshapeView: cannot reshape [${x.shape}] (${x.size} values) to [${shape}]`);
  return runKernel(RESHAPE, { x }, { shape: resolved, inShape: x.shape });
}

/** a + b for tensors of one shape (a residual connection), saving nothing for the backward. */
export function addSame<T extends tf.Tensor>(a: T, b: T): T {
  if (!tf.util.arraysEqual(a.shape, b.shape))
    throw new Error(`addSame: shapes differ, [${a.shape}] and [${b.shape}]`);
  return runKernel(ADD, { a, b });
}

/** y (N, out) + bias (out), saving nothing for the backward. */
export function biasAdd(y: tf.Tensor2D, bias: tf.Tensor1D): tf.Tensor2D {
  if (y.rank !== 2 || bias.rank !== 1 || bias.shape[0] !== y.shape[1])
    throw new Error(`biasAdd: expected y (N, out) and bias (out), got [${y.shape}] and [${bias.shape}]`);
  return runKernel(BIAS_ADD, { y, bias });
}
