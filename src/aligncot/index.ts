// AlignCoT chains: schema and loading, stages and step tokens, text format, training encodings,
// step-skip attention masks, batching and dataset statistics (method.md §1–2).

export { STAGES, STEP_ID, STEP_LABELS, type Stage, type StepLabel } from '../steps.js';
export {
  type BatchOptions,
  type BatchTensors,
  batches,
  countBatches,
  type DocPlacement,
  type HostBatch,
  toTensors,
} from '../train/batch.js';
export {
  buildAttnMask,
  drawSkip,
  type MaskLayout,
  SKIPPABLE_STAGES,
  type SkipRecord,
  type StepSkipOptions,
} from '../train/masks.js';
export { type BleuOptions, bleuTokens, selfBleu, sentenceBleu } from './bleu.js';
export type { Chain, SafetyCheck, Turn } from './chain.js';
export {
  type EncodeChainOptions,
  type EncodedChain,
  type EncodeReport,
  encodeChain,
  encodeChains,
  labelTokens,
  type StepSpan,
  type Truncation,
} from './encode.js';
export {
  type ChainFields,
  formatChain,
  formatQuestion,
  parseChainText,
  ROLE_PREFIX,
  stageText,
} from './format.js';
export {
  CHAIN_KEYS,
  type ChainCounts,
  type ChainError,
  ChainSchema,
  type LoadChainsOptions,
  type LoadedChains,
  loadChains,
  parseChains,
  validateChainLine,
} from './schema.js';
export {
  defineStages,
  FOUR_STAGE,
  type StageSet,
  type StageSpec,
  type StepTokenIdMap,
  stageNames,
  stepTokenIds,
  THREE_STAGE,
} from './stages.js';
export { type ChainStats, chainStats, type StatsOptions, summarize, type TokenStats } from './stats.js';
