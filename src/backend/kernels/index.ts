// Every custom kernel and gradient of the library, and the one function that registers them. Importing a kernel
// module registers nothing: selectBackend calls registerKernels after it has activated a backend, and a user who
// activates a tfjs backend without selectBackend calls registerKernels once after tf.setBackend.
import * as tf from '@tensorflow/tfjs';
import { adamwKernels } from './adamw.js';
import { batchMatMulGradConfig } from './batch-matmul-grad.js';
import { causalAttentionKernels } from './causal-attention.js';
import { headNllKernels } from './head-nll.js';
import { maskedSoftmaxKernels } from './masked-softmax.js';
import { overrideKernel } from './override.js';
import { rmsNormKernels } from './rms-norm.js';
import { ropeKernels } from './rope.js';
import { rowSoftmaxKernels } from './row-softmax.js';
import { segmentedMixKernels } from './segmented-mix.js';
import { segmentedRowsKernels } from './segmented-rows.js';
import { shapeOnlyKernels } from './shape-only.js';
import { swigluKernels } from './swiglu.js';
import { tokenNllKernels } from './token-nll.js';
import { topKMaskKernels } from './top-k-mask.js';
import type { KernelSet } from './types.js';
import { unsortedSegmentSumWasmConfig } from './unsorted-segment-sum.js';
import { wasmBatchMatMul } from './wasm-batch-matmul.js';
import { wasmConcat } from './wasm-concat.js';
import { wasmGather } from './wasm-gather.js';
import { wasmIdentity } from './wasm-identity.js';
import { wasmTranspose } from './wasm-transpose.js';
import { webgpuAddN } from './webgpu-addn.js';
import { webgpuCast, webgpuTranspose } from './webgpu-int32.js';
import { webgpuBatchMatMul } from './webgpu-matmul.js';
import { webgpuReverse } from './webgpu-reverse.js';
import { sgmvKernels } from './webgpu-sgmv.js';
import { rowsMatMulKernels, weightMatMulKernels } from './weight-matmul.js';

/** Everything registerKernels installs, in order. */
const KERNEL_SETS: readonly KernelSet[] = [
  // fixes of tfjs 4.22 (tfjs-notes.md, "Three wasm traps")
  { kernels: [unsortedSegmentSumWasmConfig], gradients: [batchMatMulGradConfig] },
  // faster wasm kernels of tfjs ops
  { wasmOverrides: [wasmBatchMatMul, wasmTranspose, wasmIdentity, wasmConcat, wasmGather] },
  // fixes of tfjs 4.22 on webgpu (docs/webgpu.md): Reverse of rank > 4, int32 buffers (Cast, Transpose), AddN of many
  // inputs; the smallest matmuls on software adapters
  { webgpuOverrides: [webgpuReverse, webgpuCast, webgpuTranspose, webgpuAddN, webgpuBatchMatMul] },
  // products with a weight kept in one copy (no packed or transposed copies on wasm)
  weightMatMulKernels,
  rowsMatMulKernels,
  // the model's fused ops (src/model/fused/)
  rmsNormKernels,
  ropeKernels,
  maskedSoftmaxKernels,
  causalAttentionKernels,
  tokenNllKernels,
  headNllKernels,
  rowSoftmaxKernels,
  swigluKernels,
  shapeOnlyKernels,
  // the experts' mixing and gate (src/experts/)
  segmentedMixKernels,
  segmentedRowsKernels,
  sgmvKernels,
  topKMaskKernels,
  // the optimizer (src/train/optimizer.ts)
  adamwKernels,
];

/**
 * What one registerKernels call did, one line per kernel (`Name@backend`, `Name@wasm (override)`) or gradient
 * (`Name (gradient)`): installed by this call, present from an earlier one, or skipped with the reason.
 */
export interface KernelReport {
  installed: string[];
  present: string[];
  skipped: string[];
}

/**
 * Registers every custom kernel and gradient of the library with tfjs: the library's own ops on each backend they
 * run on (cpu, wasm, tensorflow, webgl, webgpu; the JS kernels on wasm and cpu), the BatchMatMul gradient that
 * replaces tfjs's, the wasm UnsortedSegmentSum tfjs 4.22 lacks (unless tfjs has one), and the faster wasm kernels
 * of BatchMatMul, Transpose, Identity, Concat and GatherV2. Kernels are registered by backend name, so a backend
 * need not be active; the wasm replacements need `@tensorflow/tfjs-backend-wasm` loaded (it registers the kernels
 * they replace) and are skipped until it is.
 *
 * `selectBackend` calls this after activating a backend. Call it yourself once after `tf.setBackend(…)` if you
 * activate a tfjs backend without `selectBackend`; the library's fused ops, experts and AdamW throw
 * KernelNotRegisteredError until it has run. Idempotent: a second call installs only what was skipped and is
 * now possible.
 */
export function registerKernels(): KernelReport {
  const report: KernelReport = { installed: [], present: [], skipped: [] };
  for (const set of KERNEL_SETS) {
    for (const config of set.kernels ?? []) {
      const id = `${config.kernelName}@${config.backendName}`;
      const current = tf.getKernel(config.kernelName, config.backendName);
      if (current === config) report.present.push(id);
      else if (current) report.skipped.push(`${id}: another kernel of that name is registered`);
      else {
        tf.registerKernel(config);
        report.installed.push(id);
      }
    }
    for (const config of set.gradients ?? []) {
      const id = `${config.kernelName} (gradient)`;
      if (tf.getGradient(config.kernelName) === config) report.present.push(id);
      else {
        tf.registerGradient(config); // replaces tfjs's own for a tfjs op (it warns only under DEBUG)
        report.installed.push(id);
      }
    }
    for (const [backend, overrides] of [
      ['wasm', set.wasmOverrides],
      ['webgpu', set.webgpuOverrides],
    ] as const) {
      for (const o of overrides ?? []) {
        const id = `${o.kernelName}@${backend} (override)`;
        const status = overrideKernel(backend, o);
        if (status === 'absent')
          report.skipped.push(`${id}: @tensorflow/tfjs-backend-${backend} is not loaded`);
        else report[status].push(id);
      }
    }
  }
  return report;
}

/**
 * Runs `run` with `config` as the gradient of its kernel, then puts back the gradient registered before (the
 * library's, after registerKernels), also when `run` throws. For comparisons such as src/bench/matmul.ts.
 */
export async function withGradient<T>(config: tf.GradConfig, run: () => Promise<T>): Promise<T> {
  const before = tf.getGradient(config.kernelName);
  tf.registerGradient(config);
  try {
    return await run();
  } finally {
    if (before) tf.registerGradient(before);
    else tf.unregisterGradient(config.kernelName);
  }
}

export { KernelNotRegisteredError } from './run.js';
