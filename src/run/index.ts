// Run directories as a library API: the run config, a base with the step tokens, loading a run back, training a
// run in a directory as `mote train` does, and the files bundled with the package.
export {
  type Base,
  type BaseSource,
  findTokenizer,
  type LoadBaseOptions,
  loadBase,
  loadFiniteModel,
} from './base.js';
export { BUNDLED, bundledFile, bundledModel, PACKAGE_ROOT } from './bundled.js';
export {
  checkRunConfigInput,
  type DataConfig,
  mergeRunConfig,
  type RunConfig,
  type RunConfigInput,
  readRunConfigFile,
  resolveRunConfig,
} from './config.js';
export { heldOutSeed, prepareChains } from './data.js';
export {
  type BaseOverrides,
  buildRunModel,
  type InferenceModel,
  type InferenceSource,
  type LoadedRun,
  loadForInference,
  loadRun,
  type RunCheckpoint,
  readRunCheckpoint,
} from './load.js';
export {
  type LockInfo,
  type LockOptions,
  lockRunDir,
  type RunLock,
  RunLockedError,
  readRunLock,
} from './lock.js';
export { metricsWriter, truncateMetrics, writeLossPlot } from './metrics.js';
export {
  type PlannedRun,
  type PlanRunOptions,
  planRun,
  type RunEvent,
  type RunFiles,
  runFiles,
  type TrainRunOptions,
  type TrainRunResult,
  trainRun,
} from './train.js';
