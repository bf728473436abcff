// The mixing kernels by name, and what 'auto' picks per backend (measured with src/bench/experts.ts; the figures
// are in docs/performance.md).
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
 * The fastest kernel per backend for step routing (src/bench/experts.ts: one projection, forward and backward with
 * gradients of x and the factors). On wasm segmented was the fastest MoTE kernel by kernel time in every run; on
 * cpu (a reference backend) segmented and dense are within noise. tensorflow is not measured here; segmented does
 * the fewest FLOPs and no host round trip for step routing. A learned top-k gate is mixed densely by 'auto' (see
 * mixKernel).
 */
export const AUTO_KERNEL: Readonly<Record<string, MixKernelName>> = {
  wasm: 'segmented',
  cpu: 'segmented',
  tensorflow: 'segmented',
};

/**
 * The kernel `name` stands for on the active backend. A learned top-k gate is mixed densely: segmenting it needs
 * the gate's choices on the host (a device read per layer) and k passes of gathers, which made it slower than
 * dense on wasm.
 */
export function mixKernel(name: MixKernelName | 'auto', routing?: Routing['kind']): MixKernel {
  if (name !== 'auto') return MIX_KERNEL_IMPLS[name];
  if (routing === 'topk') return MIX_KERNEL_IMPLS.dense;
  return MIX_KERNEL_IMPLS[AUTO_KERNEL[tf.getBackend()] ?? 'segmented'];
}

export type { MixInput, MixKernel, Routing } from './types.js';
