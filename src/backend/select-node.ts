// selectBackend in Node: native TensorFlow (on a GPU, then the CPU) → wasm → cpu for 'auto' (select.ts walks it).
import { setFlagsFromString } from 'node:v8';
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
import { preferRelaxedSimd } from './simd/instance.js';

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
 * The SIMD gemm's relaxed form (simd/instance.ts) in Node: V8 has relaxed SIMD on by default from 11.4 (Node 22);
 * Node 20's 11.3 has it, complete, behind a flag, which takes effect for modules compiled after it is set.
 * MOTE_RELAXED_SIMD=0 keeps the plain form (results equal to the last bit on every machine).
 */
export function enableRelaxedSimd(env: Record<string, string | undefined>, nodeVersion: string): boolean {
  const on = env.MOTE_RELAXED_SIMD !== '0';
  preferRelaxedSimd(on);
  if (on && Number(nodeVersion.split('.')[0]) < 22) setFlagsFromString('--experimental-wasm-relaxed-simd');
  return on;
}

/**
 * Picks and activates a tfjs backend, then registers the library's kernels and gradients (registerKernels). Returns
 * the choice with its reason and every attempt; throws ConfigError for an unknown name and BackendUnavailableError
 * when nothing requested can run. `deps` replaces the imports and tfjs calls in tests (kernels are then left alone).
 */
export function selectBackend(
  options: SelectBackendOptions = {},
  deps: BackendDeps = defaultBackendDeps,
): Promise<BackendChoice> {
  if (deps === defaultBackendDeps) enableRelaxedSimd(deps.env, process.versions.node);
  return chooseBackend(NODE_BACKENDS, options, deps, deps === defaultBackendDeps);
}
