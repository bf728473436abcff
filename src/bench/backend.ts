// The backend of a benchmark run, and the device it really runs on. `tensorflow-gpu` is `tensorflow` that must
// be on a GPU: tfjs-node-gpu does not fail without CUDA, it logs dso_loader warnings and runs on the CPU, so a
// GPU benchmark could silently measure the CPU. The device comes from selectBackend's probe, which reads
// tfjs-node's `isUsingGpuDevice` (TensorFlow listed a GPU device; src/backend/candidates.ts).

import { TFJS_NODE_GPU } from '../backend/candidates.js';
import type { BackendDeps } from '../backend/deps.js';
import { defaultBackendDeps } from '../backend/deps-node.js';
import {
  BACKEND_REQUESTS,
  type BackendChoice,
  type BackendEvent,
  BackendUnavailableError,
} from '../backend/index.js';
import { selectBackend } from '../backend/select-node.js';

/** What `mote bench --backend` accepts: the library's requests, plus `tensorflow-gpu` (tensorflow on a GPU). */
export const BENCH_BACKENDS = [...BACKEND_REQUESTS, 'tensorflow-gpu'] as const;
/** One of BENCH_BACKENDS. */
export type BenchBackend = (typeof BENCH_BACKENDS)[number];
/** Where the kernels run. */
export type BenchDevice = 'gpu' | 'cpu';

/** The active backend of a benchmark run and its device. */
export interface BenchBackendChoice {
  choice: BackendChoice;
  device: BenchDevice;
  /** Set when tensorflow-gpu was asked for and the run goes on on the CPU (`allowCpuFallback`). */
  fallback?: string;
}

/** What to check when tfjs-node-gpu runs on the CPU. */
export const GPU_CHECKLIST = [
  '`nvidia-smi` lists the GPU and a driver for CUDA 11.2 or later',
  'the CUDA 11.2 runtime libraries (libcudart.so.11.0, libcublas.so.11, …) are on LD_LIBRARY_PATH',
  'cuDNN 8.1 is installed (libcudnn.so.8; `ldconfig -p | grep libcudnn` shows its version): ' +
    'tfjs-node-gpu 4.22 loads libtensorflow 2.9.1, built against CUDA 11.2 and cuDNN 8.1',
  'TF_CPP_MIN_LOG_LEVEL=0 shows the dso_loader lines naming any library that failed to load',
];

/** tensorflow-gpu was requested and TensorFlow runs on the CPU. */
export class GpuFallbackError extends Error {
  constructor(
    readonly choice: BackendChoice,
    readonly why: string,
  ) {
    super(
      `--backend tensorflow-gpu: TensorFlow is running on the CPU, not a GPU (${why}).\nCheck:\n` +
        GPU_CHECKLIST.map((line) => `  - ${line}`).join('\n') +
        '\nOr pass --allow-cpu-fallback to benchmark the CPU anyway (records then say device: "cpu").',
    );
    this.name = 'GpuFallbackError';
  }
}

/**
 * Activates the backend for a benchmark and says which device it runs on. For `tensorflow-gpu`, throws
 * GpuFallbackError when TensorFlow is not on a GPU, unless `allowCpuFallback`. Other requests are
 * selectBackend's (errors included). `deps` replaces the imports and tfjs calls in tests.
 */
export async function selectBenchBackend(
  backend: BenchBackend,
  opts: { allowCpuFallback?: boolean; onEvent?: (e: BackendEvent) => void } = {},
  deps: BackendDeps = defaultBackendDeps,
): Promise<BenchBackendChoice> {
  const wantGpu = backend === 'tensorflow-gpu';
  const choice = await selectBackend(
    { backend: wantGpu ? 'tensorflow' : backend, onEvent: opts.onEvent },
    deps,
  ).catch((err: unknown) => {
    if (wantGpu && err instanceof BackendUnavailableError)
      err.message = `--backend tensorflow-gpu needs ${TFJS_NODE_GPU} with a CUDA GPU; ${err.message}`;
    throw err;
  });
  const device: BenchDevice = choice.gpu ? 'gpu' : 'cpu';
  if (!wantGpu || choice.gpu) return { choice, device };
  // The tensorflow-gpu attempt's reason: not installed, binding missing, or loaded without a GPU device.
  const why = choice.attempts.find((a) => a.name === 'tensorflow-gpu' && !a.ok)?.reason ?? choice.reason;
  if (!opts.allowCpuFallback) throw new GpuFallbackError(choice, why);
  return { choice, device, fallback: why };
}
