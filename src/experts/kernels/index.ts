// The mixing kernels by name, and what 'auto' picks per backend (src/bench/experts.ts; numbers below).
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
 * The fastest kernel per backend for step routing: one projection, fwd+bwd with gradients of x and the factors,
 * N = 2048 tokens, d = 512, rank 16, 3 step experts + shared (src/bench/experts.ts), on a shared 2-core box
 * under load 3–9 from other jobs. Process CPU time, 15 interleaved rounds; ratio to the fastest single LoRA
 * (median time / median of same-round ratios); kernel ms = sum of per-kernel minimum times from tf.profile:
 *
 *   wasm, fwd+bwd        single LoRA   MoTE segmented       MoTE dense           MoTE reference
 *   chain-like batch     177 ms        196 ms  1.10 / 1.06  234 ms  1.32 / 1.34  308 ms  1.74 / 1.69
 *   one sequence         177 ms        208 ms  1.17 / 1.16  229 ms  1.29 / 1.26  320 ms  1.80 / 1.83
 *   kernel ms (chain)    126           144     1.15         157     1.25
 *
 * Over six runs the segmented median ratio ranged 1.10–1.34 (the load moves single runs a lot); it was the
 * fastest MoTE kernel by kernel time in every case. cpu (N = 512, d = 256; a reference backend): segmented ≤ dense
 * within noise. tensorflow: not measured here (tfjs-node is not installed); segmented does the fewest FLOPs and
 * no host round trip for step routing. A learned top-k gate is mixed densely by 'auto' (see mixKernel).
 */
export const AUTO_KERNEL: Readonly<Record<string, MixKernelName>> = {
  wasm: 'segmented',
  cpu: 'segmented',
  tensorflow: 'segmented',
};

/**
 * The kernel `name` stands for on the active backend. A learned top-k gate is mixed densely: segmenting it needs
 * the gate's choices on the host (a device read per layer) and k passes of gathers; on wasm, top-2 of 3 measured
 * 218 ms dense against 293 ms segmented (same setup as AUTO_KERNEL).
 */
export function mixKernel(name: MixKernelName | 'auto', routing?: Routing['kind']): MixKernel {
  if (name !== 'auto') return MIX_KERNEL_IMPLS[name];
  if (routing === 'topk') return MIX_KERNEL_IMPLS.dense;
  return MIX_KERNEL_IMPLS[AUTO_KERNEL[tf.getBackend()] ?? 'segmented'];
}

export type { MixInput, MixKernel, Routing } from './types.js';
