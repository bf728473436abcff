// Training: the loop on generic examples (in this process; worker threads and checkpoint files: the Node entry),
// batching and step-skip masks, its configuration, optimizer, schedule, clipping, evaluation, the held-out split.
export {
  type BatchOptions,
  type BatchTensors,
  batches,
  countBatches,
  type DocPlacement,
  type HostBatch,
  toTensors,
} from './batch.js';
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
export type { GradientPathOpener, GradientPathRequest, OpenedGradientPath } from './gradients.js';
export {
  buildAttnMask,
  type MaskLayout,
  SKIPPABLE_STAGES,
  type SkipRecord,
  type StepSkipOptions,
} from './masks.js';
export { AdamW, type AdamWOptions, type AdamWState, isNoDecay } from './optimizer.js';
export { lossCurveSvg, seriesFromMetrics } from './plot.js';
export { learningRateAt, type ScheduleOptions } from './schedule.js';
export { heldOutSplit, splitHeldOut } from './split.js';
export { type LossByStage, StageLoss } from './stats.js';
export {
  lmWindows,
  parseJsonlTexts,
  type ReadCorpusOptions,
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
