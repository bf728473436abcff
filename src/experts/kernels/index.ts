// The mixing kernels by name, and what 'auto' picks per device: the device's calibration when it has one
// (calibrate.ts, choice.ts), else the table measured with src/bench/experts.ts (figures in docs/performance.md).
import * as tf from '@tensorflow/tfjs';
import type { MixKernelName } from '../config.js';
import { activeChoice } from './choice.js';
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
 * gradients of x and the factors), used where the device has no calibration of its own. On wasm segmented was the
 * fastest MoTE kernel by kernel time in every run; on cpu (a reference backend) segmented and dense are within
 * noise. tensorflow is not measured here; segmented does the fewest FLOPs and no host round trip for step routing.
 * webgpu has no entry: devices differ too much (selectBackend calibrates it, calibrate.ts); uncalibrated, it gets
 * segmented (with the WGSL programs). A learned top-k gate is mixed densely by 'auto' (see mixKernel).
 */
export const AUTO_KERNEL: Readonly<Record<string, MixKernelName>> = {
  wasm: 'segmented',
  cpu: 'segmented',
  tensorflow: 'segmented',
};

/**
 * The kernel `name` stands for on the active backend: for 'auto', the active device's measured choice
 * (calibrateMixKernel), else AUTO_KERNEL. A learned top-k gate is mixed densely: segmenting it needs the gate's
 * choices on the host (a device read per layer) and k passes of gathers, which made it slower than dense on wasm.
 */
export function mixKernel(name: MixKernelName | 'auto', routing?: Routing['kind']): MixKernel {
  if (name !== 'auto') return MIX_KERNEL_IMPLS[name];
  if (routing === 'topk') return MIX_KERNEL_IMPLS.dense;
  return MIX_KERNEL_IMPLS[activeChoice()?.kernel ?? AUTO_KERNEL[tf.getBackend()] ?? 'segmented'];
}

export type { MixInput, MixKernel, Routing } from './types.js';
