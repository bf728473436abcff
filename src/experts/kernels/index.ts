// The mixing kernels by name, and what 'auto' picks per backend (from benchmarks/experts.ts; numbers in
// AUTO_KERNEL's comment).
import * as tf from '@tensorflow/tfjs';
import type { MixKernelName } from '../config.js';
import { denseKernel } from './dense.js';
import { referenceKernel } from './reference.js';
import { segmentedKernel } from './segmented.js';
import type { MixKernel, Routing } from './types.js';

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

/** Backends whose tensors live in host memory: reading a learned gate's choices back costs no device sync. */
const HOST_MEMORY = new Set(['wasm', 'cpu']);

/**
 * The kernel `name` stands for on the active backend. With a learned top-k gate, segmenting needs the gate's
 * choices on the host (one read per layer), so on device backends 'auto' mixes densely instead.
 */
export function mixKernel(name: MixKernelName | 'auto', routing?: Routing['kind']): MixKernel {
  if (name !== 'auto') return MIX_KERNEL_IMPLS[name];
  const backend = tf.getBackend();
  if (routing === 'topk' && !HOST_MEMORY.has(backend)) return MIX_KERNEL_IMPLS.dense;
  return MIX_KERNEL_IMPLS[AUTO_KERNEL[backend] ?? 'segmented'];
}

export type { MixInput, MixKernel, Routing } from './types.js';
