// selectBackend in Node: native TensorFlow (on a GPU, then the CPU) → wasm → cpu for 'auto' (select.ts walks it).
import { CANDIDATES, INSTALL_HINTS } from './candidates.js';
import type { BackendDeps } from './deps.js';
import { defaultBackendDeps } from './deps-node.js';
import { registerKernels } from './kernels/index.js';
import {
  type BackendChoice,
  type BackendRegistry,
  chooseBackend,
  type SelectBackendOptions,
} from './select.js';

export type { SelectBackendOptions } from './select.js';

/** Node's candidates, best first for each request. WebGPU (through Dawn) is never tried unless asked for. */
const NODE_BACKENDS: BackendRegistry = {
  candidates: CANDIDATES,
  order: {
    auto: ['tensorflow-gpu', 'tensorflow-cpu', 'wasm', 'cpu'],
    tensorflow: ['tensorflow-gpu', 'tensorflow-cpu'],
    webgpu: ['webgpu'],
    wasm: ['wasm'],
    cpu: ['cpu'],
  },
  hints: { ...INSTALL_HINTS, auto: INSTALL_HINTS.wasm },
  finish: async (choice) => {
    choice.kernels = registerKernels();
  },
};

/**
 * Picks and activates a tfjs backend, then registers the library's kernels and gradients (registerKernels). Returns
 * the choice with its reason and every attempt; throws ConfigError for an unknown name and BackendUnavailableError
 * when nothing requested can run. `deps` replaces the imports and tfjs calls in tests (kernels are then left alone).
 */
export function selectBackend(
  options: SelectBackendOptions = {},
  deps: BackendDeps = defaultBackendDeps,
): Promise<BackendChoice> {
  return chooseBackend(NODE_BACKENDS, options, deps, deps === defaultBackendDeps);
}
