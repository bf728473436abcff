// Training: the loop on generic examples, batching and step-skip masks, its configuration, optimizer, schedule,
// clipping, evaluation, the held-out split and checkpoints.
export {
  type BatchOptions,
  type BatchTensors,
  batches,
  countBatches,
  type DocPlacement,
  type HostBatch,
  toTensors,
} from './batch.js';
export {
  CheckpointMismatchError,
  latestCheckpoint,
  listCheckpoints,
  loadCheckpoint,
  readCheckpoint,
  readCheckpointState,
  saveCheckpoint,
} from './checkpoint.js';
export { type FileCheckpointerOptions, fileCheckpointer } from './checkpointer.js';
export { clipByGlobalNorm, globalNorm, NonFiniteError, namedGradients } from './clip.js';
export {
  accumulationSteps,
  DEFAULT_TRAIN_CONFIG,
  resolveTrainConfig,
  SCHEDULE_KINDS,
  type ScheduleKind,
  type TrainConfig,
} from './config.js';
export { type EvalResult, evaluate } from './evaluate.js';
export type { TrainData, TrainExample } from './example.js';
export {
  buildAttnMask,
  type MaskLayout,
  SKIPPABLE_STAGES,
  type SkipRecord,
  type StepSkipOptions,
} from './masks.js';
export { AdamW, type AdamWOptions, type AdamWState, isNoDecay } from './optimizer.js';
export { AUTO_MIN_STEP_WORK, resolveWorkers, type WorkersChoice, type Workload } from './parallel/auto.js';
export { GradientPool, type ParallelOptions, WorkerFailedError } from './parallel/pool.js';
export { lossCurveSvg, readMetricsJsonl, seriesFromMetrics } from './plot.js';
export {
  type CorpusStats,
  PRETRAIN_MODEL,
  PRETRAIN_TRAIN,
  type PreparedCorpus,
  type PretrainConfig,
  type PretrainConfigInput,
  type PretrainEvent,
  type PretrainOptions,
  type PretrainResult,
  type PretrainRunOptions,
  prepareCorpus,
  pretrain,
  pretrainModel,
  resolvePretrainConfig,
  type TokenizerTrainConfig,
} from './pretrain.js';
export { lastGoodCheckpoint, type ResumePoint, resumePoint, setAsideNewer } from './resume.js';
export { learningRateAt, type ScheduleOptions } from './schedule.js';
export { heldOutSplit, splitHeldOut } from './split.js';
export { type LossByStage, StageLoss } from './stats.js';
export {
  lmWindows,
  parseJsonlTexts,
  type ReadCorpusOptions,
  readCorpus,
  splitDocuments,
  splitParagraphs,
} from './text-data.js';
export {
  type Checkpointer,
  type TrainEvent,
  type TrainOptions,
  type TrainPosition,
  type TrainResult,
  train,
  trainableByName,
} from './trainer.js';
