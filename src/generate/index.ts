// Public surface of generation: decoders, sampling, plain generation, staged generation (one sequence or batched).
export { HostDecoder, TensorDecoder } from './decoder.js';
export {
  type DecoderCalibration,
  type DecoderKind,
  decoderCalibrationOf,
  forgetDecoderChoices,
} from './decoder-choice.js';
export {
  createDecoder,
  DEFAULT_GENERATE_CONFIG,
  generate,
  generateStream,
  resolveGenerateConfig,
} from './generate.js';
export {
  clampTokenLimits,
  generationCeiling,
  promptRoom,
  stageCeiling,
  type TokenLimits,
} from './limits.js';
export { generateBatch, PlainBatcher, type PlainBatchOptions } from './plain-batch.js';
export {
  argmax,
  checkLogits,
  createSampler,
  DEFAULT_SAMPLING_CONFIG,
  NonFiniteLogitsError,
  resolveSamplingConfig,
  type SamplingConfig,
} from './sampler.js';
export {
  DEFAULT_STAGED_CONFIG,
  forcedStages,
  generateStaged,
  generateStagedText,
  promptTokens,
  questionFits,
  resolveStagedConfig,
} from './staged.js';
export {
  DEFAULT_STAGED_BATCH_SIZE,
  generateStagedBatch,
  resolveStagedBatchConfig,
  type StagedBatchConfig,
  type StagedBatchEventHandler,
  StagedBatcher,
} from './staged-batch.js';
export type {
  Decoder,
  GenerateConfig,
  GenerateResult,
  StagedConfig,
  StagedEvent,
  StagedResult,
  StageMode,
  StopReason,
  TokenEvent,
} from './types.js';
