// The real side effects of backend selection in Node (deps.ts).
import * as tf from '@tensorflow/tfjs';
import type { BackendDeps } from './deps.js';

/** The real dependencies: Node's `import()`, the shared tfjs engine, `process.env`, `globalThis`. */
export const defaultBackendDeps: BackendDeps = {
  // A string variable keeps TypeScript and bundlers from resolving optional packages at build time.
  importModule: (specifier: string) => import(specifier),
  isRegistered: (name) => tf.findBackendFactory(name) != null,
  setBackend: (name) => tf.setBackend(name),
  backendInstance: (name) => tf.findBackend(name) ?? undefined,
  env: process.env,
  global: globalThis as unknown as Record<string, unknown>,
};
