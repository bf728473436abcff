// What a kernel module hands to registerKernels (index.ts): its kernels and gradients as plain data. No module
// registers anything when it is imported.
import type * as tf from '@tensorflow/tfjs';

/**
 * A replacement for a kernel that a backend package (tfjs-backend-wasm, tfjs-backend-webgpu) registers when it is
 * imported: it can only be put in place afterwards, and it keeps the original (handed to `keep`) for the cases it
 * does not handle.
 */
export interface KernelOverride {
  kernelName: string;
  kernelFunc: tf.KernelFunc;
  /** Receives the kernel replaced, the fallback of `kernelFunc`. */
  keep(original: tf.KernelConfig): void;
}

/** A replacement of a tfjs-backend-wasm kernel. */
export type WasmOverride = KernelOverride;

/** The kernels and gradients of one op or fix. */
export interface KernelSet {
  /** Kernels of the library's own ops (and the wasm UnsortedSegmentSum tfjs lacks), one config per backend. */
  kernels?: readonly tf.KernelConfig[];
  /** Gradients, for every backend; one of a tfjs op replaces the built-in one. */
  gradients?: readonly tf.GradConfig[];
  /** Replacements of wasm kernels, installed once the wasm package has registered its own. */
  wasmOverrides?: readonly KernelOverride[];
  /** Replacements of webgpu kernels (fixes of tfjs 4.22), installed once the webgpu package has registered its own. */
  webgpuOverrides?: readonly KernelOverride[];
}
