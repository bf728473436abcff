// Hugging Face Llama config.json ↔ our ModelConfig (transformers `LlamaConfig`, read not copied). We accept
// exactly what our Transformer computes: RMSNorm, plain RoPE, SwiGLU (silu), GQA, no biases, tied or untied head.
// Everything else is refused with an error naming the field, its value and what is supported.
import { type ModelConfig, resolveModelConfig } from '../model/config.js';
import { ConfigError, FormatError } from '../util/errors.js';

/** Our field → the config.json field it comes from (for error messages). */
const HF_FIELD: Record<keyof ModelConfig, string> = {
  dim: 'hidden_size',
  hiddenDim: 'intermediate_size',
  numLayers: 'num_hidden_layers',
  numHeads: 'num_attention_heads',
  numKvHeads: 'num_key_value_heads',
  vocabSize: 'vocab_size',
  maxSeqLen: 'max_position_embeddings',
  normEps: 'rms_norm_eps',
  ropeTheta: 'rope_theta',
  tiedEmbeddings: 'tie_word_embeddings',
};

export interface HfConfigOptions {
  /** Cap on the context (RoPE table length) when max_position_embeddings is larger. Default: no cap. */
  maxSeqLen?: number;
}

/**
 * Validates a parsed config.json of a `LlamaForCausalLM` and returns the ModelConfig it describes. Defaults are
 * LlamaConfig's (num_key_value_heads = num_attention_heads, max_position_embeddings 2048, rms_norm_eps 1e-6,
 * rope_theta 10000, tie_word_embeddings false). `file` names the file in errors.
 */
export function modelConfigFromHf(
  json: unknown,
  file: string,
  options: HfConfigOptions = {},
): Readonly<ModelConfig> {
  const fail = (field: string, value: unknown, expected: string): never => {
    throw new FormatError(file, field, `${JSON.stringify(value)} is not supported; expected ${expected}`);
  };
  if (json === null || typeof json !== 'object' || Array.isArray(json))
    throw new FormatError(file, '', 'expected a JSON object (a transformers config.json)');
  const j = json as Record<string, unknown>;
  const arch = j.architectures;
  if (arch !== undefined && !(Array.isArray(arch) && arch.includes('LlamaForCausalLM')))
    fail('architectures', arch, '["LlamaForCausalLM"] (only the Llama family is supported)');
  if (j.model_type !== 'llama') fail('model_type', j.model_type, '"llama"');
  if ((j.hidden_act ?? 'silu') !== 'silu') fail('hidden_act', j.hidden_act, '"silu" (SwiGLU)');
  if (j.rope_scaling != null)
    fail(
      'rope_scaling',
      j.rope_scaling,
      'null (RoPE scaling: linear, dynamic, yarn, llama3… is not supported)',
    );
  const ropeParameters = j.rope_parameters as Record<string, unknown> | undefined | null;
  if (ropeParameters != null && (ropeParameters.rope_type ?? 'default') !== 'default')
    fail('rope_parameters.rope_type', ropeParameters.rope_type, '"default" (plain RoPE)');
  if (j.attention_bias === true) fail('attention_bias', true, 'false (no attention biases)');
  if (j.mlp_bias === true) fail('mlp_bias', true, 'false (no MLP biases)');
  if (j.quantization_config != null)
    fail('quantization_config', j.quantization_config, 'none (quantized checkpoints are not supported)');

  const heads = j.num_attention_heads as number;
  if (j.head_dim != null && j.head_dim !== (j.hidden_size as number) / heads)
    fail('head_dim', j.head_dim, `hidden_size / num_attention_heads = ${(j.hidden_size as number) / heads}`);
  const positions = (j.max_position_embeddings ?? 2048) as number;
  const partial: ModelConfig = {
    dim: j.hidden_size as number,
    hiddenDim: j.intermediate_size as number,
    numLayers: j.num_hidden_layers as number,
    numHeads: heads,
    numKvHeads: (j.num_key_value_heads ?? heads) as number,
    vocabSize: j.vocab_size as number,
    maxSeqLen: options.maxSeqLen !== undefined ? Math.min(options.maxSeqLen, positions) : positions,
    normEps: (j.rms_norm_eps ?? 1e-6) as number,
    ropeTheta: (ropeParameters?.rope_theta ?? j.rope_theta ?? 10000) as number,
    tiedEmbeddings: (j.tie_word_embeddings ?? false) as boolean,
  };
  try {
    return resolveModelConfig(partial);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    const field = HF_FIELD[e.key as keyof ModelConfig] ?? e.key;
    throw new FormatError(file, field, `${JSON.stringify(e.value)} is invalid; expected ${e.expected}`);
  }
}

export interface HfConfigExtras {
  bosTokenId?: number;
  eosTokenId?: number;
  /** `torch_dtype` of the weights. Default float32. */
  torchDtype?: 'float32' | 'float16' | 'bfloat16';
}

/** The config.json of a LlamaForCausalLM with shape `c` (what `modelConfigFromHf` reads back to `c`). */
export function hfConfigFromModel(c: ModelConfig, extras: HfConfigExtras = {}): Record<string, unknown> {
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: c.dim,
    intermediate_size: c.hiddenDim,
    num_hidden_layers: c.numLayers,
    num_attention_heads: c.numHeads,
    num_key_value_heads: c.numKvHeads,
    head_dim: c.dim / c.numHeads,
    vocab_size: c.vocabSize,
    max_position_embeddings: c.maxSeqLen,
    rms_norm_eps: c.normEps,
    rope_theta: c.ropeTheta,
    rope_scaling: null,
    hidden_act: 'silu',
    attention_bias: false,
    attention_dropout: 0,
    mlp_bias: false,
    pretraining_tp: 1,
    initializer_range: 0.02,
    tie_word_embeddings: c.tiedEmbeddings,
    use_cache: true,
    bos_token_id: extras.bosTokenId ?? 1,
    eos_token_id: extras.eosTokenId ?? 2,
    torch_dtype: extras.torchDtype ?? 'float32',
  };
}
