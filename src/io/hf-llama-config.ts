// Hugging Face config.json ↔ our ModelConfig, for the decoder families our Transformer computes exactly
// (transformers `LlamaConfig`, `Qwen2Config`, `MistralConfig`, read not copied): RMSNorm, RoPE (plain, `linear` or
// `llama3` scaling), SwiGLU (silu), GQA, any head_dim, tied or untied head, and the biases each family has
// (Qwen2: q/k/v; Llama `attention_bias`: q/k/v/o, `mlp_bias`: gate/up/down). Everything else is refused with an
// error naming the file, the field, its value and what is supported.
import {
  headSize,
  type LinearModule,
  type ModelConfig,
  type RopeScaling,
  resolveModelConfig,
} from '../model/config.js';
import { ConfigError, FormatError } from '../util/errors.js';

/** The families we read, by config.json `model_type`, with their `architectures` class. */
export const HF_FAMILIES = {
  llama: 'LlamaForCausalLM',
  qwen2: 'Qwen2ForCausalLM',
  mistral: 'MistralForCausalLM',
} as const;
export type HfFamily = keyof typeof HF_FAMILIES;

/**
 * Each family's config class defaults for fields a config.json may omit (transformers' `__init__` arguments).
 * num_key_value_heads: Llama falls back to num_attention_heads, Qwen2 and Mistral to a number.
 */
const FAMILY_DEFAULTS: Record<HfFamily, { kvHeads: number | null; positions: number }> = {
  llama: { kvHeads: null, positions: 2048 },
  qwen2: { kvHeads: 32, positions: 32768 },
  mistral: { kvHeads: 8, positions: 4096 * 32 },
};

/** Our field → the config.json field it comes from (for error messages). */
const HF_FIELD: Record<string, string> = {
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
  headDim: 'head_dim',
  bosTokenId: 'bos_token_id',
  eosTokenIds: 'eos_token_id',
  padTokenId: 'pad_token_id',
  'ropeScaling.factor': 'rope_scaling.factor',
  'ropeScaling.lowFreqFactor': 'rope_scaling.low_freq_factor',
  'ropeScaling.highFreqFactor': 'rope_scaling.high_freq_factor',
  'ropeScaling.originalMaxPositions': 'rope_scaling.original_max_position_embeddings',
};

export interface HfConfigOptions {
  /** Cap on the context (RoPE table length) when max_position_embeddings is larger. Default: no cap. */
  maxSeqLen?: number;
}

/** What a config.json describes. */
export interface HfModelDescription {
  family: HfFamily;
  config: Readonly<ModelConfig>;
  /** `torch_dtype` (or transformers 5 `dtype`) as written, or null. */
  torchDtype: string | null;
}

type Fail = (field: string, value: unknown, expected: string) => never;

/**
 * Validates a parsed config.json of a Llama, Qwen2 or Mistral causal LM and returns the ModelConfig it describes
 * with its family. Missing fields take the family's config-class defaults (rms_norm_eps 1e-6, rope_theta 10000,
 * tie_word_embeddings false, max_position_embeddings 2048 / 32768 / 131072). `file` names the file in errors.
 */
export function describeHfConfig(
  json: unknown,
  file: string,
  options: HfConfigOptions = {},
): HfModelDescription {
  const fail: Fail = (field, value, expected) => {
    throw new FormatError(file, field, `${JSON.stringify(value)} is not supported; expected ${expected}`);
  };
  if (json === null || typeof json !== 'object' || Array.isArray(json))
    throw new FormatError(file, '', 'expected a JSON object (a transformers config.json)');
  const j = json as Record<string, unknown>;
  const families = Object.entries(HF_FAMILIES).map(([t, a]) => `"${t}" (${a})`);
  if (typeof j.model_type !== 'string' || !(j.model_type in HF_FAMILIES))
    fail('model_type', j.model_type, `one of ${families.join(', ')}`);
  const family = j.model_type as HfFamily;
  const arch = j.architectures;
  if (arch !== undefined && !(Array.isArray(arch) && arch.includes(HF_FAMILIES[family])))
    fail('architectures', arch, `["${HF_FAMILIES[family]}"] for model_type "${family}"`);
  if ((j.hidden_act ?? 'silu') !== 'silu') fail('hidden_act', j.hidden_act, '"silu" (SwiGLU)');
  if (j.quantization_config != null)
    fail('quantization_config', j.quantization_config, 'none (quantized checkpoints are not supported)');
  if ((j.partial_rotary_factor ?? 1) !== 1)
    fail('partial_rotary_factor', j.partial_rotary_factor, '1 (RoPE on the whole head)');

  const heads = j.num_attention_heads as number;
  const defaults = FAMILY_DEFAULTS[family];
  const positions = (j.max_position_embeddings ?? defaults.positions) as number;
  const maxSeqLen = options.maxSeqLen !== undefined ? Math.min(options.maxSeqLen, positions) : positions;
  checkAttentionWindow(j, family, maxSeqLen, fail);
  const rope = ropeFromHf(j, fail);
  const partial: Partial<ModelConfig> = {
    dim: j.hidden_size as number,
    hiddenDim: j.intermediate_size as number,
    numLayers: j.num_hidden_layers as number,
    numHeads: heads,
    numKvHeads: (j.num_key_value_heads ?? defaults.kvHeads ?? heads) as number,
    vocabSize: j.vocab_size as number,
    maxSeqLen,
    normEps: (j.rms_norm_eps ?? 1e-6) as number,
    ropeTheta: rope.theta,
    ropeScaling: rope.scaling,
    tiedEmbeddings: (j.tie_word_embeddings ?? false) as boolean,
    ...(j.head_dim != null ? { headDim: j.head_dim as number } : {}), // absent: hidden_size / heads
    biases: biasesFromHf(j, family, fail),
    ...specialIdsFromHf(j, fail),
  };
  let config: Readonly<ModelConfig>;
  try {
    config = resolveModelConfig(partial);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    const field = HF_FIELD[e.key] ?? e.key;
    throw new FormatError(file, field, `${JSON.stringify(e.value)} is invalid; expected ${e.expected}`);
  }
  const dtype = j.torch_dtype ?? j.dtype;
  return { family, config, torchDtype: typeof dtype === 'string' ? dtype : null };
}

/** The ModelConfig of a config.json (see describeHfConfig). */
export function modelConfigFromHf(
  json: unknown,
  file: string,
  options: HfConfigOptions = {},
): Readonly<ModelConfig> {
  return describeHfConfig(json, file, options).config;
}

/**
 * Sliding-window attention changes which keys a query sees once the context exceeds the window: refused unless
 * the window covers the whole context used (then it is plain causal attention). A query at position i sees keys
 * j > i − window (transformers' sliding-window mask), so window ≥ maxSeqLen is exact.
 */
function checkAttentionWindow(j: Record<string, unknown>, family: HfFamily, maxSeqLen: number, fail: Fail) {
  const sliding = Array.isArray(j.layer_types) && j.layer_types.some((t) => t !== 'full_attention');
  if (sliding) fail('layer_types', j.layer_types, 'only "full_attention" layers (no sliding-window layers)');
  if (family === 'qwen2' && j.use_sliding_window === true)
    fail('use_sliding_window', true, 'false (sliding-window attention is not supported)');
  if (family === 'mistral') {
    const w = j.sliding_window;
    if (w != null && !(typeof w === 'number' && w >= maxSeqLen))
      fail(
        'sliding_window',
        w,
        `null or ≥ the context used (${maxSeqLen}); load with maxSeqLen ≤ ${w} to use this model with a shorter context`,
      );
  }
}

/** RoPE base and scaling from `rope_scaling` (+ `rope_theta`), or transformers 5 `rope_parameters`. */
function ropeFromHf(j: Record<string, unknown>, fail: Fail): { theta: number; scaling: RopeScaling | null } {
  const params = j.rope_parameters;
  const [field, s] =
    params != null && j.rope_scaling == null ? ['rope_parameters', params] : ['rope_scaling', j.rope_scaling];
  const theta = ((params as Record<string, unknown> | null)?.rope_theta ?? j.rope_theta ?? 10000) as number;
  if (s == null) return { theta, scaling: null };
  if (typeof s !== 'object' || Array.isArray(s)) fail(field, s, 'an object {rope_type, factor, …} or null');
  const r = s as Record<string, unknown>;
  const type = r.rope_type ?? r.type ?? 'default'; // "type" is the older spelling
  const typeField = `${field}.${r.rope_type !== undefined ? 'rope_type' : 'type'}`;
  const supported = '"linear" or "llama3" (or "default"); dynamic, yarn, longrope… are not supported';
  const num = (key: string) => {
    const v = r[key];
    if (typeof v !== 'number' || !Number.isFinite(v))
      fail(`${field}.${key}`, v, `a number (rope_type ${type})`);
    return v as number;
  };
  switch (type) {
    case 'default':
      return { theta, scaling: null };
    case 'linear':
      return { theta, scaling: { type: 'linear', factor: num('factor') } };
    case 'llama3':
      return {
        theta,
        scaling: {
          type: 'llama3',
          factor: num('factor'),
          lowFreqFactor: num('low_freq_factor'),
          highFreqFactor: num('high_freq_factor'),
          originalMaxPositions: num('original_max_position_embeddings'),
        },
      };
    default:
      return fail(typeField, type, supported);
  }
}

const ATTENTION: readonly LinearModule[] = ['q', 'k', 'v', 'o'];
const MLP: readonly LinearModule[] = ['gate', 'up', 'down'];
const QKV: readonly LinearModule[] = ['q', 'k', 'v'];

/** Which projections carry a bias: Qwen2's q/k/v always; Llama's per attention_bias / mlp_bias; Mistral none. */
function biasesFromHf(j: Record<string, unknown>, family: HfFamily, fail: Fail): LinearModule[] {
  if (family === 'qwen2') return [...QKV];
  if (family === 'mistral') return [];
  const flag = (key: string) => {
    const v = j[key] ?? false;
    if (typeof v !== 'boolean') fail(key, v, 'true or false');
    return v as boolean;
  };
  return [...(flag('attention_bias') ? ATTENTION : []), ...(flag('mlp_bias') ? MLP : [])];
}

/** bos/eos/pad ids; eos may be one id or a list (kept whole: Llama 3 stops on any of three). */
function specialIdsFromHf(
  j: Record<string, unknown>,
  fail: Fail,
): Pick<ModelConfig, 'bosTokenId' | 'eosTokenIds' | 'padTokenId'> {
  const id = (key: string) => {
    const v = j[key] ?? null;
    if (v !== null && !Number.isInteger(v)) fail(key, v, 'an integer token id or null');
    return v as number | null;
  };
  const eos = j.eos_token_id ?? null;
  if (eos !== null && !Number.isInteger(eos) && !(Array.isArray(eos) && eos.every(Number.isInteger)))
    fail('eos_token_id', eos, 'an integer token id, a list of them, or null');
  const pad = id('pad_token_id');
  return {
    bosTokenId: id('bos_token_id'),
    eosTokenIds: eos === null ? [] : Array.isArray(eos) ? eos : [eos as number],
    padTokenId: pad !== null && pad < 0 ? null : pad, // early Llama configs wrote -1 for "no padding token"
  };
}

// ---------------------------------------------------------------- writing

export interface HfConfigExtras {
  /** BOS / EOS ids to write (override the config's own). Default: the config's, else 1 / 2 (Llama). */
  bosTokenId?: number;
  eosTokenId?: number | readonly number[];
  /** `torch_dtype` of the weights. Default float32. */
  torchDtype?: 'float32' | 'float16' | 'bfloat16';
}

/**
 * The family that represents a config's biases: none or Llama's attention/MLP sets → llama, exactly q/k/v → qwen2.
 * A Mistral model is written as Llama: it was only read with no sliding window, where both compute the same.
 * Throws for other combinations (no transformers class computes them).
 */
export function hfFamilyOf(c: ModelConfig): HfFamily {
  const has = (ms: readonly LinearModule[]) => ms.every((m) => c.biases.includes(m));
  const count = c.biases.length;
  if (count === 3 && has(QKV)) return 'qwen2';
  const llama = (has(ATTENTION) ? 4 : 0) + (has(MLP) ? 3 : 0);
  if (llama === count) return 'llama';
  throw new Error(
    `biases on [${c.biases}]: no Hugging Face family computes that set (q,k,v: Qwen2; q,k,v,o and/or gate,up,down: Llama)`,
  );
}

/** The config.json of a model with shape `c` (what `describeHfConfig` reads back to `c`, context and all). */
export function hfConfigFromModel(c: ModelConfig, extras: HfConfigExtras = {}): Record<string, unknown> {
  const family = hfFamilyOf(c);
  const eos = extras.eosTokenId ?? (c.eosTokenIds.length ? c.eosTokenIds : 2);
  const rope = c.ropeScaling;
  const out: Record<string, unknown> = {
    architectures: [HF_FAMILIES[family]],
    model_type: family,
    hidden_size: c.dim,
    intermediate_size: c.hiddenDim,
    num_hidden_layers: c.numLayers,
    num_attention_heads: c.numHeads,
    num_key_value_heads: c.numKvHeads,
    head_dim: headSize(c),
    vocab_size: c.vocabSize,
    max_position_embeddings: c.maxSeqLen,
    rms_norm_eps: c.normEps,
    rope_theta: c.ropeTheta,
    rope_scaling:
      rope === null
        ? null
        : rope.type === 'linear'
          ? { rope_type: 'linear', factor: rope.factor }
          : {
              rope_type: 'llama3',
              factor: rope.factor,
              low_freq_factor: rope.lowFreqFactor,
              high_freq_factor: rope.highFreqFactor,
              original_max_position_embeddings: rope.originalMaxPositions,
            },
    hidden_act: 'silu',
    attention_dropout: 0,
    initializer_range: 0.02,
    tie_word_embeddings: c.tiedEmbeddings,
    use_cache: true,
    bos_token_id: extras.bosTokenId ?? c.bosTokenId ?? 1,
    eos_token_id: Array.isArray(eos) && eos.length === 1 ? eos[0] : eos,
    torch_dtype: extras.torchDtype ?? 'float32',
  };
  if (c.padTokenId !== null) out.pad_token_id = c.padTokenId;
  if (family === 'llama')
    Object.assign(out, {
      attention_bias: c.biases.includes('q'),
      mlp_bias: c.biases.includes('gate'),
      pretraining_tp: 1,
    });
  else
    Object.assign(out, { use_sliding_window: false, sliding_window: null, max_window_layers: c.numLayers });
  return out;
}
