// mote-tfjs: the public API (exports only).

export * from './aligncot/build/index.js';
export type { Chain, SafetyCheck, Turn } from './aligncot/chain.js';
export * from './aligncot/index.js';
export * from './backend/index.js';
export * from './eval/index.js';
export { type AblationOptions, type AblationRun, runAblation } from './experiment/ablation.js';
export { writeAblation } from './experiment/ablation-report.js';
export * from './experts/index.js';
export * from './generate/index.js';
export { loadHfLlama, readHfConfig, readHfLlama, saveHfLlama } from './io/hf-llama.js';
export {
  describeHfConfig,
  HF_FAMILIES,
  type HfFamily,
  type HfModelDescription,
  modelConfigFromHf,
} from './io/hf-llama-config.js';
export { llama2cFileSize, loadLlama2c, parseLlama2c, saveLlama2c } from './io/llama2c.js';
export { type LoadedModel, type LoadModelOptions, loadModel } from './io/load.js';
export { exportPeftAdapters, type PeftExportSummary } from './io/peft.js';
export { importPeftAdapters, type PeftImportResult } from './io/peft-import.js';
export { decodeSafetensors, encodeSafetensors, readSafetensors, writeSafetensors } from './io/safetensors.js';
export { SafetensorsFile } from './io/safetensors-file.js';
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
  type BuildOptions,
  type ForwardOptions,
  LINEAR_MODULES,
  type LinearModule,
  type LinearSlot,
  Transformer,
} from './model/transformer.js';
export * from './run/index.js';
export * from './steps.js';
export * from './tokenizer/index.js';
export * from './train/index.js';
export { ConfigError, FileError, FormatError } from './util/errors.js';
export { type NonFiniteOptions, NonFiniteTensorError } from './util/finite.js';
export { DEFAULT_MAX_LINE_BYTES, JsonlError, type JsonlLineError } from './util/jsonl.js';
