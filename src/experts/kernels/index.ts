// The mixing kernels by name, and what 'auto' picks per backend (benchmarks/experts.ts; numbers below).
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
 * N = 2048 tokens, d = 512, rank 16, 3 step experts + shared (benchmarks/experts.ts), on a shared 2-core box
 * (load 4–9 from other jobs; medians of process CPU time over 15 interleaved rounds, and the sum of per-kernel
 * minimum times from tf.profile, which is less sensitive to the load):
 *
 *   wasm        single LoRA   MoTE segmented   MoTE dense   MoTE reference
 *   median ms   177           201 (1.13×)      217 (1.22×)  322 (1.82×)    8 rows × 256, chain-like segments
 *               177           205 (1.16×)      197 (1.11×)  310 (1.75×)    one sequence, one run per step
 *   kernel ms   126           144 (1.15×)      157 (1.25×)  —              chain-like
 *               126           141 (1.12×)      160 (1.27×)  —              one sequence
 *
 * cpu (N = 512, d = 256; reference backend only): segmented ≤ dense within noise. tensorflow: not measured
 * here (tfjs-node is not installed); segmented does the fewest FLOPs and no host round trip for step routing.
 * A learned top-k gate is mixed densely by 'auto' (see mixKernel).
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
