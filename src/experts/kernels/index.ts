// The mixing kernels by name, and what 'auto' picks per backend (from benchmarks/experts.ts; numbers in
// AUTO_KERNEL's comment).
import * as tf from '@tensorflow/tfjs';
import type { MixKernelName } from '../config.js';
import { denseKernel } from './dense.js';
import { referenceKernel } from './reference.js';
import { segmentedKernel } from './segmented.js';
import type { MixKernel } from './types.js';

export const MIX_KERNEL_IMPLS: Readonly<Record<MixKernelName, MixKernel>> = {
  reference: referenceKernel,
  dense: denseKernel,
  segmented: segmentedKernel,
};

/**
 * The fastest kernel per backend, fwd+bwd, N = 2048, d = 512, rank 16, 3 step experts + shared
 * (benchmarks/experts.ts; see its header for the measured numbers).
 */
export const AUTO_KERNEL: Readonly<Record<string, MixKernelName>> = {
  wasm: 'segmented',
  cpu: 'segmented',
  tensorflow: 'segmented',
};

/** The kernel `name` stands for on the active backend. */
export function mixKernel(name: MixKernelName | 'auto'): MixKernel {
  return MIX_KERNEL_IMPLS[name === 'auto' ? (AUTO_KERNEL[tf.getBackend()] ?? 'segmented') : name];
}

export type { MixInput, MixKernel, Routing } from './types.js';
