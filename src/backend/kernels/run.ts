// Running one of the library's kernels from its op wrapper (src/model/fused/, src/experts/, src/train/). The
// kernels are registered by registerKernels (index.ts), which selectBackend calls; a wrapper that finds its kernel
// missing says so, instead of tfjs's bare "not registered" or a silent fallback.
import * as tf from '@tensorflow/tfjs';
import { KERNEL_BACKENDS } from './backends.js';

/** A library kernel is not registered for the active backend. */
export class KernelNotRegisteredError extends Error {
  constructor(
    readonly kernelName: string,
    readonly backend: string,
  ) {
    const head = `${kernelName} kernel not registered for the '${backend}' backend`;
    super(
      (KERNEL_BACKENDS as readonly string[]).includes(backend)
        ? `${head}: call selectBackend() (or registerKernels()) first`
        : `${head}: the library registers its kernels for ${KERNEL_BACKENDS.join(', ')} (selectBackend())`,
    );
    this.name = 'KernelNotRegisteredError';
  }
}

/** Throws KernelNotRegisteredError unless `kernelName` is registered for the active backend. */
export function requireKernel(kernelName: string): void {
  const backend = tf.getBackend();
  if (!tf.getKernel(kernelName, backend)) throw new KernelNotRegisteredError(kernelName, backend);
}

/** Runs the library kernel `kernelName` on the active backend (after requireKernel). */
export function runKernel<T extends tf.Tensor | tf.Tensor[]>(
  kernelName: string,
  inputs: tf.NamedTensorMap | tf.Tensor[],
  attrs: object = {},
): T {
  requireKernel(kernelName);
  return tf
    .engine()
    .runKernel(kernelName, inputs as tf.NamedTensorMap, attrs as tf.NamedAttrMap) as unknown as T;
}
