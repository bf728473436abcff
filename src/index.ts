// mote-tfjs: the public API (exports only).

export type { Chain, SafetyCheck, Stage, Turn } from './aligncot/chain.js';
export { STAGES } from './aligncot/chain.js';
export * from './backend/index.js';
export { type Decoder, HostDecoder, TensorDecoder } from './generate/decoder.js';
export {
  createDecoder,
  DEFAULT_GENERATE_CONFIG,
  type GenerateConfig,
  type GenerateResult,
  generate,
  generateStream,
  HOST_DECODER_MAX_PARAMS,
  resolveGenerateConfig,
  type StopReason,
  type TokenEvent,
} from './generate/generate.js';
export {
  argmax,
  createSampler,
  DEFAULT_SAMPLING_CONFIG,
  resolveSamplingConfig,
  type SamplingConfig,
} from './generate/sampler.js';
export { llama2cFileSize, loadLlama2c, parseLlama2c, saveLlama2c } from './io/llama2c.js';
export { type LoadedModel, type LoadModelOptions, loadModel } from './io/load.js';
export { causalMask, MASKED } from './model/attention.js';
export {
  DEFAULT_MODEL_CONFIG,
  headSize,
  MODEL_PRESETS,
  type ModelConfig,
  type ModelPreset,
  resolveModelConfig,
} from './model/config.js';
export { KVCache } from './model/kv-cache.js';
export { Linear, type LinearContext, type LinearLike } from './model/linear.js';
export {
  type BuildOptions,
  type ForwardOptions,
  LINEAR_MODULES,
  type LinearModule,
  type LinearSlot,
  Transformer,
} from './model/transformer.js';
export * from './tokenizer/index.js';
export { ConfigError, FormatError } from './util/errors.js';
