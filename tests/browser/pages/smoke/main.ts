// The smoke page: runs the matmul + relu + gradient case on a named backend and returns the numbers, with
// what the backend is (wasm flavour and threads, WebGPU adapter) and whether tensors leaked.
import * as tf from '@tensorflow/tfjs';
import { getThreadsCount, setThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-backend-webgpu';
import { exposeChecks } from '../../protocol.js';
import { useBundledWasm } from '../wasm-assets.js';
import { webgpuAdapterInfo } from '../webgpu.js';
import { matmulReluGrad } from './matmul-relu.js';
import type { SmokeParams, SmokeRun } from './types.js';

useBundledWasm();

async function run(params: SmokeParams): Promise<SmokeRun> {
  if (params.wasmThreads) setThreadsCount(params.wasmThreads);
  const adapter = params.backend === 'webgpu' ? await webgpuAdapterInfo() : undefined;
  if (!(await tf.setBackend(params.backend))) throw new Error(`tf.setBackend('${params.backend}') failed`);
  await tf.ready();
  const before = tf.memory().numTensors;
  const t0 = performance.now();
  const result = await matmulReluGrad(params);
  const ms = performance.now() - t0;
  const out: SmokeRun = {
    ...result,
    backend: tf.getBackend(),
    leaked: tf.memory().numTensors - before,
    ms,
    adapter,
  };
  if (params.backend === 'wasm') {
    out.wasm = {
      simd: Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')),
      multithread: Boolean(await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')),
      threads: getThreadsCount(),
      hardwareConcurrency: navigator.hardwareConcurrency,
      crossOriginIsolated,
    };
  }
  show(out);
  return out;
}

/** One row per run, so the screenshot shows what ran. */
function show(run: SmokeRun): void {
  const row = document.createElement('tr');
  const details = run.adapter
    ? `adapter ${run.adapter.vendor} / ${run.adapter.architecture}${run.adapter.isFallbackAdapter ? ' (software)' : ''}`
    : `simd ${run.wasm?.simd}, threads ${run.wasm?.threads}, cross-origin isolated ${run.wasm?.crossOriginIsolated}`;
  for (const text of [run.backend, details, run.ms.toFixed(1)]) {
    const cell = document.createElement('td');
    cell.textContent = text;
    row.append(cell);
  }
  document.getElementById('results')?.append(row);
}

exposeChecks({ run: run as (params: never) => Promise<unknown> });
