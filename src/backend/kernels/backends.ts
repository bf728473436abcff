// The tfjs backends the library registers kernels for: the one list. Kernels whose body is tf ops run on all of
// them; kernels written in JavaScript over the tensors' memory only where that memory is in this process.
import * as tf from '@tensorflow/tfjs';

/** Every backend the library registers kernels for; `host`: its tensors are in this process (wasm heap, cpu arrays). */
const BACKENDS = {
  cpu: { host: true },
  wasm: { host: true },
  tensorflow: { host: false },
  webgl: { host: false },
  webgpu: { host: false },
} as const;

/** One of the backends the library registers kernels for. */
export type KernelBackend = keyof typeof BACKENDS;

/** Every backend the library registers kernels for (a kernel whose body is tf ops goes on each). */
export const KERNEL_BACKENDS = Object.keys(BACKENDS) as readonly KernelBackend[];

/** The backends whose tensors the JS kernels read and write in place: wasm and cpu. */
export const HOST_BACKENDS: readonly KernelBackend[] = KERNEL_BACKENDS.filter((b) => BACKENDS[b].host);

/** Whether the active backend runs the JS kernels (otherwise fused ops fall back to composed tf ops). */
export function jsKernelsActive(): boolean {
  return (HOST_BACKENDS as readonly string[]).includes(tf.getBackend());
}

/**
 * Whether reading a tensor synchronously (dataSync) is safe on the active backend. Not on webgpu: tfjs 4.22 reads a
 * GPU buffer synchronously through a WebGPU canvas, which in Chromium 156 gave the right values once, then zeros, then
 * a lost device (docs/webgpu.md); the library reads with `await data()` there.
 */
export function syncReadsWork(): boolean {
  return tf.getBackend() !== 'webgpu';
}
