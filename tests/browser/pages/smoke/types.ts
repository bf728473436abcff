// The smoke page's `run` check: its parameters and result, shared with the Node test (no DOM types here).
import type { AdapterInfo } from '../../adapter.js';
import type { MatmulReluCase, MatmulReluResult } from './matmul-relu.js';

/** Parameters of the `run` check. */
export interface SmokeParams extends MatmulReluCase {
  backend: 'wasm' | 'webgpu';
  /** XNNPACK threads for the wasm backend, set before it starts; tfjs caps it at hardwareConcurrency / 2. */
  wasmThreads?: number;
}

/** What the `run` check returns. */
export interface SmokeRun extends MatmulReluResult {
  backend: string;
  /** Tensors alive after the case minus before it (0 when nothing leaked). */
  leaked: number;
  ms: number;
  wasm?: {
    simd: boolean;
    multithread: boolean;
    threads: number;
    hardwareConcurrency: number;
    crossOriginIsolated: boolean;
  };
  adapter?: AdapterInfo;
}
