// AlignCoT chains: schema and loading, stage sets, text format, encoding into training examples and dataset
// statistics (method.md §1). The step vocabulary is src/steps.ts; batching and step-skip masks are in train/.

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
  formatBlocks,
  formatChain,
  formatQuestion,
  parseChainText,
  questionTurns,
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
