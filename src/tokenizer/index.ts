// Tokenizers: the Tokenizer interface, llama2.c's tokenizer.bin format, byte-level BPE (training, HF tokenizer.json
// read/write, SentencePiece-style Llama tokenizer.json), one loader for both, and the AlignCoT step tokens.

export { AddedTokens } from './added-tokens.js';
export { type MergeLookup, mergeByScore } from './bpe.js';
export { BpeModel, type BpeModelSpec } from './bpe-model.js';
export type { DecoderSpec, NormalizerStep, PreTokenizerSpec } from './bpe-pipeline.js';
export {
  type AddedTokenSpec,
  BpeTokenizer,
  type BpeTokenizerJSON,
  type BpeTokenizerSpec,
} from './bpe-tokenizer.js';
export { type BpeTrainProgress, type TrainBpeOptions, trainBpe } from './bpe-trainer.js';
export {
  byteLevelToBytes,
  bytesToByteLevel,
  byteToChar,
  GPT2_SPLIT_PATTERN,
  splitGpt2,
  textToByteLevel,
} from './byte-level.js';
export { type TokenizerJsonOptions, tokenizerFromJson } from './hf-tokenizer-json.js';
export { tokenizerConfigJson, tokenizerToJson } from './hf-tokenizer-json-writer.js';
export {
  BYTE_TOKEN_OFFSET,
  byteTokenPiece,
  type Llama2cVocab,
  MIN_VOCAB_SIZE,
  readLlama2cVocab,
} from './llama2c-format.js';
export { Llama2cTokenizer, type Llama2cTokenizerJSON, loadLlama2cTokenizer } from './llama2c-tokenizer.js';
export {
  type LoadTokenizerOptions,
  loadTokenizer,
  loadTokenizerJson,
  saveHfTokenizer,
} from './load-tokenizer.js';
export { addStepTokens } from './special-tokens.js';
export type { EncodeOptions, StreamDecoder, Tokenizer } from './tokenizer.js';
