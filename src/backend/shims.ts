// Fixes for tfjs 4.22 installed into its global registries once, when the library loads. See
// tfjs-notes.md, "Three wasm traps": the missing wasm UnsortedSegmentSum and the BatchMatMul gradient.
import * as tf from '@tensorflow/tfjs';
import { batchMatMulGradConfig } from './batch-matmul-grad.js';
import { unsortedSegmentSumWasmConfig } from './unsorted-segment-sum.js';
import { installWasmBatchMatMul } from './wasm-batch-matmul.js';
import { installWasmConcat } from './wasm-concat.js';
import { installWasmGather } from './wasm-gather.js';
import { installWasmIdentity } from './wasm-identity.js';
import { installWasmTranspose } from './wasm-transpose.js';

/** What installShims did on its first call: each shim is installed, or skipped because tfjs has one. */
export interface ShimReport {
  unsortedSegmentSumWasm: 'installed' | 'present';
  batchMatMulGrad: 'installed';
}

let report: ShimReport | undefined;

/**
 * Registers the wasm UnsortedSegmentSum kernel (unless a wasm kernel of that name exists, e.g. in a later
 * tfjs) and overrides the BatchMatMul gradient on every backend. Idempotent: later calls return the first
 * report. Registration is by backend name, so it works before or after the wasm backend initialises.
 */
export function installShims(): ShimReport {
  if (report) return report;
  const segmentSumPresent = tf.getKernel(tf.UnsortedSegmentSum, 'wasm') != null;
  if (!segmentSumPresent) tf.registerKernel(unsortedSegmentSumWasmConfig);
  tf.registerGradient(batchMatMulGradConfig); // overrides the built-in; tfjs warns only under DEBUG
  installBackendKernels();
  report = {
    unsortedSegmentSumWasm: segmentSumPresent ? 'present' : 'installed',
    batchMatMulGrad: 'installed',
  };
  return report;
}

/**
 * Kernel replacements for backends whose package registers its kernels on import (so they can only be replaced
 * afterwards): the batched-XNNPACK BatchMatMul, the blocked Transpose, the copy-free Identity, the view-free Concat
 * and the row-copy GatherV2 on wasm.
 * Idempotent; `selectBackend` calls it after activating a backend, and `installShims` when the packages are
 * already loaded.
 */
export function installBackendKernels(): {
  wasmBatchMatMul: boolean;
  wasmTranspose: boolean;
  wasmIdentity: boolean;
  wasmConcat: boolean;
  wasmGather: boolean;
} {
  return {
    wasmBatchMatMul: installWasmBatchMatMul(),
    wasmTranspose: installWasmTranspose(),
    wasmIdentity: installWasmIdentity(),
    wasmConcat: installWasmConcat(),
    wasmGather: installWasmGather(),
  };
}
