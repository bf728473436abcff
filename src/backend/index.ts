// The backend layer: backend choice, tfjs shims (installed on import), memory guards.
import { installShims } from './shims.js';

export { type BackendDeps, defaultBackendDeps } from './deps.js';
export {
  expectNoLeak,
  type LeakReport,
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
  type SelectBackendOptions,
  selectBackend,
} from './select.js';
export { installShims, type ShimReport } from './shims.js';

installShims();
