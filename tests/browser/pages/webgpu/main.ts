// The WebGPU page: the library's model, experts, training and generation on tfjs's webgpu backend (SwiftShader's
// software adapter here, a GPU elsewhere), each check comparing with the cpu backend in the same page. The library
// is imported module by module: its index also loads Node-only modules (file IO, worker threads).
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';
import { registerKernels } from '../../../../src/backend/kernels/index.js';
import { exposeChecks } from '../../protocol.js';
import { webgpuAdapterInfo } from '../webgpu.js';
import { benchCheck } from './bench.js';
import { countWgslCalls, mixCheck } from './mix.js';
import { keepOriginalReverse, modelCheck } from './model.js';
import { stagedCheck } from './staged.js';
import { trainCheck } from './train.js';

keepOriginalReverse();
const report = registerKernels();
countWgslCalls();

/** The adapter, and what registerKernels did (the webgpu shims must be installed). */
async function setup() {
  const adapter = await webgpuAdapterInfo();
  if (!(await tf.setBackend('webgpu'))) throw new Error("tf.setBackend('webgpu') failed");
  return { adapter, kernels: report };
}

/** A row per check, so the screenshot shows what ran. */
function show(name: string, result: unknown): void {
  const row = document.createElement('li');
  row.textContent = `${name}: ${JSON.stringify(result).slice(0, 200)}`;
  document.getElementById('log')?.append(row);
}

const checks = {
  setup,
  mix: mixCheck,
  model: modelCheck,
  train: trainCheck,
  staged: stagedCheck,
  bench: benchCheck,
};
exposeChecks(
  Object.fromEntries(
    Object.entries(checks).map(([name, f]) => [
      name,
      async (params: never) => {
        const result = await (f as (p: never) => Promise<unknown>)(params);
        show(name, result);
        return result;
      },
    ]),
  ),
);
