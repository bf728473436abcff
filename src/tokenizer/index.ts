// Tokenizers: the Tokenizer interface, llama2.c's tokenizer.bin format, and the AlignCoT step tokens.

export { AddedTokens } from './added-tokens.js';
export { type MergeLookup, mergeByScore } from './bpe.js';
export {
  BYTE_TOKEN_OFFSET,
  byteTokenPiece,
  type Llama2cVocab,
  MIN_VOCAB_SIZE,
  readLlama2cVocab,
} from './llama2c-format.js';
export { Llama2cTokenizer, type Llama2cTokenizerJSON, loadLlama2cTokenizer } from './llama2c-tokenizer.js';
export {
  addStepTokens,
  DEFAULT_STEP_STAGES,
  STEP_TOKENS,
  type StepTokenIds,
  type StepTokenStrings,
} from './special-tokens.js';
export type { EncodeOptions, StreamDecoder, Tokenizer } from './tokenizer.js';
