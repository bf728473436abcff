// The files of a PEFT LoRA adapter directory (huggingface/peft `LoraConfig` in tuners/lora/config.py,
// `get_peft_model_state_dict` in utils/save_and_load.py, TrainableTokensWrapper in utils/other.py; read, not
// copied): adapter_config.json, the state-dict key names of adapter_model.safetensors, and our mote_config.json that
// says how several adapters make one MoTE model.
import type { ExpertConfig } from '../experts/config.js';
import { PEFT_KINDS } from '../experts/kinds.js';
import { LINEAR_MODULES, type LinearModule } from '../model/transformer.js';
import { FormatError } from '../util/errors.js';
import { HF_TARGET_NAMES, hfLinearPath } from './hf-llama-layout.js';

export const ADAPTER_CONFIG_FILE = 'adapter_config.json';
export const ADAPTER_WEIGHTS_FILE = 'adapter_model.safetensors';
export const MOTE_CONFIG_FILE = 'mote_config.json';
export const MOTE_CONFIG_FORMAT = 'mote-peft-adapters';
export const MOTE_CONFIG_VERSION = 1;

/** PEFT's saved key of the trainable rows of the input embedding (`trainable_token_indices`), [n, hidden]. */
export const EMBED_ROWS_KEY = 'base_model.model.model.embed_tokens.token_adapter.trainable_tokens_delta';
/** The same for an untied lm_head (its rows, i.e. PyTorch weight rows), [n, hidden]. */
export const HEAD_ROWS_KEY = 'base_model.model.lm_head.token_adapter.trainable_tokens_delta';

/** `base_model.model.model.layers.L.self_attn.q_proj.lora_A.weight` ([r, in]) / `lora_B.weight` ([out, r]). */
export function loraKey(layer: number, module: LinearModule, factor: 'A' | 'B'): string {
  return `base_model.model.${hfLinearPath(layer, module)}.lora_${factor}.weight`;
}

// ---------------------------------------------------------------- adapter_config.json

/** What one adapter_config.json says (the fields we write and read). */
export interface LoraAdapterConfig {
  rank: number;
  /** The `lora_alpha` written: the expert's mixing weight × ExpertConfig.loraAlpha (see mote_config.json). */
  loraAlpha: number;
  rsLora: boolean;
  dropout: number;
  targets: LinearModule[];
  baseModel: string;
  /** Rows of added tokens held by this adapter, or null. */
  tokenIndices: number[] | null;
  /** Whether lm_head is tied to embed_tokens (then PEFT ties its token rows too). */
  tiedEmbeddings: boolean;
}

/**
 * adapter_config.json of a LoRA adapter for a LlamaForCausalLM. Only fields PEFT's LoraConfig has are written;
 * `trainable_token_indices` (PEFT ≥ 0.15) only when the adapter holds token rows, so a plain LoRA adapter also
 * loads in older PEFT versions.
 */
export function adapterConfigJson(c: LoraAdapterConfig): Record<string, unknown> {
  const json: Record<string, unknown> = {
    peft_type: 'LORA',
    task_type: 'CAUSAL_LM',
    base_model_name_or_path: c.baseModel,
    revision: null,
    inference_mode: true,
    auto_mapping: null,
    r: c.rank,
    lora_alpha: c.loraAlpha,
    lora_dropout: c.dropout,
    use_rslora: c.rsLora,
    target_modules: c.targets.map((t) => HF_TARGET_NAMES[t]),
    exclude_modules: null,
    fan_in_fan_out: false,
    bias: 'none',
    modules_to_save: null,
    init_lora_weights: true,
    layers_to_transform: null,
    layers_pattern: null,
    rank_pattern: {},
    alpha_pattern: {},
    use_dora: false,
    layer_replication: null,
  };
  if (c.tokenIndices)
    json.trainable_token_indices = c.tiedEmbeddings
      ? c.tokenIndices
      : { embed_tokens: c.tokenIndices, lm_head: c.tokenIndices };
  return json;
}

/** Reads an adapter_config.json, refusing what our LoRA cannot be (DoRA, biases, fan_in_fan_out, patterns…). */
export function parseAdapterConfig(json: unknown, file: string): LoraAdapterConfig {
  const j = object(json, file, '');
  const fail = (field: string, expected: string): never => {
    throw new FormatError(file, field, `${JSON.stringify(j[field])} is not supported; expected ${expected}`);
  };
  if (j.peft_type !== 'LORA') fail('peft_type', '"LORA"');
  if (!(Number.isInteger(j.r) && (j.r as number) > 0)) fail('r', 'a positive integer');
  if (!(typeof j.lora_alpha === 'number' && j.lora_alpha >= 0)) fail('lora_alpha', 'a number ≥ 0');
  if (j.use_dora === true) fail('use_dora', 'false (DoRA is not supported)');
  if (j.fan_in_fan_out === true) fail('fan_in_fan_out', 'false (Llama Linear weights are (out, in))');
  if ((j.bias ?? 'none') !== 'none') fail('bias', '"none"');
  if (j.lora_bias === true) fail('lora_bias', 'false');
  for (const k of ['rank_pattern', 'alpha_pattern'])
    if (j[k] != null && Object.keys(j[k] as object).length > 0)
      fail(k, '{} (one rank and alpha for all modules)');
  if (j.layers_to_transform != null) fail('layers_to_transform', 'null (every layer)');
  if (j.modules_to_save != null && (j.modules_to_save as unknown[]).length > 0)
    fail('modules_to_save', 'null (whole-module copies are not supported; use trainable_token_indices)');
  const byHf = new Map(LINEAR_MODULES.map((m) => [HF_TARGET_NAMES[m], m]));
  const names = j.target_modules;
  if (!Array.isArray(names) || !names.every((n) => byHf.has(n)))
    fail('target_modules', `a list of ${[...byHf.keys()].join(', ')}`);
  const targets = LINEAR_MODULES.filter((m) => (names as string[]).includes(HF_TARGET_NAMES[m]));
  const tti = j.trainable_token_indices;
  let tokenIndices: number[] | null = null;
  if (Array.isArray(tti)) tokenIndices = tti as number[];
  else if (tti != null && typeof tti === 'object')
    tokenIndices = (tti as Record<string, number[]>).embed_tokens ?? null;
  if (tti != null && !tokenIndices?.every((i) => Number.isInteger(i) && i >= 0))
    fail('trainable_token_indices', 'a list of token ids, or {embed_tokens: ids, lm_head: ids}');
  return {
    rank: j.r as number,
    loraAlpha: j.lora_alpha as number,
    rsLora: j.use_rslora === true,
    dropout: typeof j.lora_dropout === 'number' ? j.lora_dropout : 0,
    targets,
    baseModel: typeof j.base_model_name_or_path === 'string' ? j.base_model_name_or_path : '',
    tokenIndices,
    tiedEmbeddings: Array.isArray(tti) || tti == null,
  };
}

// ---------------------------------------------------------------- mote_config.json

/** One adapter sub-directory in mote_config.json. */
export interface MoteAdapterEntry {
  /** Expert name: a step (`analysis`, …), `shared`, or `lora` for a single LoRA. */
  name: string;
  /** Sub-directory, relative to the export directory (`.` for a single LoRA). */
  dir: string;
  /** `step`: active only on its step's tokens; `shared`: on every token; `lora`: a single LoRA. */
  role: 'step' | 'shared' | 'lora';
  /** Mixing weight folded into this adapter's lora_alpha: α (steps), 1 − α (shared), 1 (lora). */
  weight: number;
  /** The lora_alpha written into its adapter_config.json: weight × experts.loraAlpha. */
  loraAlpha: number;
  /** Step tokens that open and close this expert's stage (steps only). */
  stepTokens: { start: string; end: string; startId: number | null; endId: number | null } | null;
  /** Whether this adapter's safetensors holds the added token rows. */
  tokenRows: boolean;
}

/** The entry of a single LoRA: the whole export directory, weight 1. */
export function singleLoraEntry(loraAlpha: number, tokenRows: boolean): MoteAdapterEntry {
  return { name: 'lora', dir: '.', role: 'lora', weight: 1, loraAlpha, stepTokens: null, tokenRows };
}

/** mote_config.json: how the adapter directories make one MoTE (or single-LoRA) model. */
export interface MoteConfigFile {
  format: typeof MOTE_CONFIG_FORMAT;
  formatVersion: number;
  library: string;
  /** Shape of the base the adapters belong to (HF config.json names), checked on import. */
  base: {
    name_or_path: string;
    hidden_size: number;
    intermediate_size: number;
    num_hidden_layers: number;
    num_attention_heads: number;
    num_key_value_heads: number;
    vocab_size: number;
    tie_word_embeddings: boolean;
  };
  /** The resolved ExpertConfig of the trained model (attachExperts takes it as is). */
  experts: Readonly<ExpertConfig>;
  adapters: MoteAdapterEntry[];
  /** The tokens added to the base vocabulary (ids ≥ base.vocab_size), whose trained rows the adapters carry. */
  addedTokens: { content: string; id: number }[];
  /** How the α mixing is folded, and how to load the adapters in PEFT (human-readable). */
  folding: string;
  usage: string[];
}

/** Reads and checks mote_config.json (structure only; the model checks happen on import). */
export function parseMoteConfig(json: unknown, file: string): MoteConfigFile {
  const j = object(json, file, '');
  if (j.format !== MOTE_CONFIG_FORMAT)
    throw new FormatError(
      file,
      'format',
      `got ${JSON.stringify(j.format)}; expected "${MOTE_CONFIG_FORMAT}"`,
    );
  if (j.formatVersion !== MOTE_CONFIG_VERSION)
    throw new FormatError(
      file,
      'formatVersion',
      `got ${JSON.stringify(j.formatVersion)}; expected ${MOTE_CONFIG_VERSION}`,
    );
  object(j.base, file, 'base');
  const experts = object(j.experts, file, 'experts');
  if (!(PEFT_KINDS as readonly unknown[]).includes(experts.kind))
    throw new FormatError(
      file,
      'experts.kind',
      `got ${JSON.stringify(experts.kind)}; expected ${PEFT_KINDS.map((k) => JSON.stringify(k)).join(' or ')}`,
    );
  if (!Array.isArray(j.adapters) || j.adapters.length === 0)
    throw new FormatError(file, 'adapters', 'expected a non-empty list of adapter entries');
  for (const [i, a] of (j.adapters as unknown[]).entries()) {
    const e = object(a, file, `adapters[${i}]`);
    if (typeof e.name !== 'string' || typeof e.dir !== 'string' || e.dir.includes('..'))
      throw new FormatError(
        file,
        `adapters[${i}]`,
        'expected {name, dir} with dir inside the export directory',
      );
  }
  if (!Array.isArray(j.addedTokens))
    throw new FormatError(file, 'addedTokens', 'expected a list of {content, id}');
  return j as unknown as MoteConfigFile;
}

function object(value: unknown, file: string, where: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new FormatError(file, where, `got ${JSON.stringify(value)}; expected an object`);
  return value as Record<string, unknown>;
}
