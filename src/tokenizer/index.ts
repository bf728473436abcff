// Tokenizers: the Tokenizer interface; Hugging Face tokenizers (tokenizer.json, or Qwen2 / Llama-3 slow files) through
// @huggingface/tokenizers; llama2.c's tokenizer.bin; the byte-level BPE trainer and its tokenizer.json writer; one
// loader for every format (from a FileSet; paths on disk: load-tokenizer-node.ts); the AlignCoT step tokens; chat
// templates through @huggingface/jinja.

export { AddedTokens } from './added-tokens.js';
export { type MergeLookup, mergeByScore } from './bpe.js';
export { type BpeTrainProgress, type TrainBpeOptions, trainBpe } from './bpe-trainer.js';
export { byteToChar, GPT2_SPLIT_PATTERN, splitGpt2 } from './byte-level.js';
export { type ChatFormat, chatFormat } from './chat-format.js';
export {
  type ChatMessage,
  ChatTemplate,
  type ChatTemplateOptions,
  DEFAULT_CHAT_TEMPLATE,
  DEFAULT_TEMPLATE_VARIABLES,
  defaultChatTemplate,
} from './chat-template.js';
export { HfTokenizer, type HfTokenizerOptions } from './hf-tokenizer.js';
export { type ByteLevelBpeSpec, byteLevelBpeJson } from './hf-tokenizer-json-writer.js';
export {
  BYTE_TOKEN_OFFSET,
  byteTokenPiece,
  type Llama2cVocab,
  MIN_VOCAB_SIZE,
  readLlama2cVocab,
} from './llama2c-format.js';
export { Llama2cTokenizer, type Llama2cTokenizerJSON } from './llama2c-tokenizer.js';
export { readTokenizerFiles, tokenizerFromFileSet } from './load-tokenizer.js';
export {
  LLAMA3_SPECIAL_TOKENS,
  LLAMA3_SPLIT_PATTERN,
  llama3TokenizerJson,
  parseMerges,
  QWEN2_SPLIT_PATTERN,
  qwen2TokenizerJson,
} from './slow-tokenizer-files.js';
export { addStepTokens } from './special-tokens.js';
export type { EncodeOptions, StreamDecoder, Tokenizer } from './tokenizer.js';
export { NO_TOKENIZER_CONFIG, readTokenizerConfig, type TokenizerConfig } from './tokenizer-config.js';
export {
  type LoadTokenizerOptions,
  TOKENIZER_FILE_NAMES,
  type TokenizerFileKey,
  type TokenizerFiles,
  tokenizerFromFiles,
} from './tokenizer-files.js';
export {
  type AddedTokenJson,
  addedTokenJson,
  type BpeModelJson,
  checkTokenizerJson,
  type TokenizerJson,
} from './tokenizer-json.js';
