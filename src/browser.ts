// mote-tfjs in a web page (the package's `browser` export): everything that needs no file system or worker threads.
// Loaders take bytes, Blobs (dropped files), fetch Responses, URLs or FileSets instead of paths; `train` computes
// in-process (run it in a Web Worker to keep the page responsive); `selectBackend` picks WebGPU on a hardware
// adapter, else wasm, else cpu. The Node entry (index.ts) exports all of this, plus paths, worker threads and runs.

export type { Chain, SafetyCheck, Turn } from './aligncot/chain.js';
export * from './aligncot/index.js';
export * from './backend/index.js';
export { type SelectBackendOptions, selectBackend } from './backend/select-browser.js';
export { benchThroughput, type Throughput, type ThroughputOptions } from './bench/throughput.js';
export * from './eval/index.js';
export * from './experts/index.js';
export * from './generate/index.js';
export {
  type ByteSource,
  type FileContent,
  type FileSet,
  fetchFiles,
  isFileSet,
  memoryFiles,
  readBytes,
} from './io/files.js';
export {
  HF_CONFIG_FILE,
  HF_INDEX_FILE,
  HF_WEIGHTS_FILE,
  hfConfigFromFiles,
  hfLlamaFromFiles,
  type LoadHfOptions,
  readHfLlamaFiles,
} from './io/hf-llama.js';
export {
  describeHfConfig,
  HF_FAMILIES,
  type HfFamily,
  type HfModelDescription,
  modelConfigFromHf,
} from './io/hf-llama-config.js';
export { canSaveTokenizerFiles, tokenizerFileTexts } from './io/hf-tokenizer-files.js';
export { encodeLlama2c, llama2cFileSize, llama2cFromBytes, parseLlama2c } from './io/llama2c.js';
export {
  type LoadedModel,
  type LoadModelOptions,
  loadModel,
  type ModelSource,
  readModelConfig,
} from './io/load.js';
export { type PeftFiles, type PeftFilesOptions, type PeftFilesSummary, peftAdapterFiles } from './io/peft.js';
export { importPeftAdapterFiles, type PeftImportResult } from './io/peft-import.js';
export { decodeSafetensors, encodeSafetensors } from './io/safetensors.js';
export { SafetensorsReader } from './io/safetensors-reader.js';
export { causalMask, MASKED } from './model/attention.js';
export {
  DEFAULT_MODEL_CONFIG,
  headSize,
  MODEL_PRESETS,
  type ModelConfig,
  type ModelPreset,
  type RopeScaling,
  resolveModelConfig,
} from './model/config.js';
export { KVCache } from './model/kv-cache.js';
export { Linear, type LinearContext, type LinearLike } from './model/linear.js';
export { maskedMeanNll, tokenNll } from './model/loss.js';
export {
  type BackendMemory,
  estimateMemory,
  type MemoryEstimate,
  type MemoryOptions,
  parameterCount,
  WASM_HEAP_LIMIT_BYTES,
} from './model/memory.js';
export { ropeInverseFrequencies } from './model/rope.js';
export {
  type BlockCall,
  type BlockRunner,
  type BuildOptions,
  type ForwardOptions,
  LINEAR_MODULES,
  type LinearModule,
  type LinearSlot,
  Transformer,
} from './model/transformer.js';
export { type Base, withStepTokens } from './run/step-tokens.js';
export * from './steps.js';
export * from './tokenizer/index.js';
export * from './train/index.js';
export { ConfigError, FileError, FormatError } from './util/errors.js';
export { type NonFiniteOptions, NonFiniteTensorError } from './util/finite.js';
export { DEFAULT_MAX_LINE_BYTES, JsonlError, type JsonlLineError } from './util/jsonl.js';
