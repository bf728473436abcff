// The backend layer: backend choice (selectBackend: select-node.ts in Node, select-browser.ts in a page), the
// library's kernels (registered by selectBackend), memory guards.

export { KernelNotRegisteredError, type KernelReport, registerKernels } from './kernels/index.js';
export {
  describeMeasuredMemory,
  expectNoLeak,
  type LeakReport,
  type MeasuredMemory,
  measureMemory,
  TensorGrowthMonitor,
  TensorLeakError,
  tensorCount,
  withLeakCheck,
} from './memory.js';
export {
  BACKEND_REQUESTS,
  type BackendAttempt,
  type BackendChoice,
  type BackendEvent,
  type BackendName,
  type BackendRequest,
  BackendUnavailableError,
  type CandidateId,
} from './select.js';
