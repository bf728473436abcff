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

/**
 * Keys of whole embed_tokens / lm_head matrices [vocab, hidden], which PEFT's `get_peft_model_state_dict` adds when
 * `save_embedding_layers` is on (by default when the vocabulary was resized): the plain module's weight, or the
 * base layer's under a trainable-tokens wrapper.
 */
export const EMBED_MATRIX_KEYS = [
  'base_model.model.model.embed_tokens.weight',
  'base_model.model.model.embed_tokens.token_adapter.base_layer.weight',
] as const;
export const HEAD_MATRIX_KEYS = [
  'base_model.model.lm_head.weight',
  'base_model.model.lm_head.token_adapter.base_layer.weight',
] as const;

/** `base_model.model.model.layers.L.self_attn.q_proj.lora_A.weight` ([r, in]) / `lora_B.weight` ([out, r]). */
export function loraKey(layer: number, module: LinearModule, factor: 'A' | 'B'): string {
  return `base_model.model.${hfLinearPath(layer, module)}.lora_${factor}.weight`;
}

// ---------------------------------------------------------------- adapter_config.json

/** What one adapter_config.json says (the fields we write). */
export interface LoraAdapterConfig {
  rank: number;
  /** The `lora_alpha` written: the expert's mixing weight × ExpertConfig.loraAlpha (see mote_config.json). */
  loraAlpha: number;
  rsLora: boolean;
  dropout: number;
  targets: LinearModule[];
  baseModel: string;
  /** Rows of added tokens held by this adapter (their real token ids), or null. */
  tokenIndices: number[] | null;
  /** Whether lm_head is tied to embed_tokens (then PEFT ties its token rows too). */
  tiedEmbeddings: boolean;
}

/**
 * What an adapter_config.json read back says. `trainable_token_indices` comes as a list (the input embedding's rows;
 * PEFT ties lm_head's to them only when the model ties its weights) or as a dict of module → ids, whose lm_head ids
 * may differ from the embedding's.
 */
export interface ParsedAdapterConfig extends Omit<LoraAdapterConfig, 'tiedEmbeddings'> {
  /** lm_head rows held by this adapter (dict form only), or null. */
  headTokenIndices: number[] | null;
  /** The form of `trainable_token_indices`, or null when absent. */
  tokenForm: 'list' | 'dict' | null;
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
    // no exclude_modules: PEFT added it in 0.14 and older releases refuse the unknown key; we never exclude any
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
export function parseAdapterConfig(json: unknown, file: string): ParsedAdapterConfig {
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
  if (j.exclude_modules != null && (j.exclude_modules as unknown[]).length > 0)
    fail('exclude_modules', 'null or empty (every targeted projection of every layer)');
  const byHf = new Map(LINEAR_MODULES.map((m) => [HF_TARGET_NAMES[m], m]));
  const names = j.target_modules;
  if (!Array.isArray(names) || !names.every((n) => byHf.has(n)))
    fail('target_modules', `a list of ${[...byHf.keys()].join(', ')}`);
  const targets = LINEAR_MODULES.filter((m) => (names as string[]).includes(HF_TARGET_NAMES[m]));
  return {
    rank: j.r as number,
    loraAlpha: j.lora_alpha as number,
    rsLora: j.use_rslora === true,
    dropout: typeof j.lora_dropout === 'number' ? j.lora_dropout : 0,
    targets,
    baseModel: typeof j.base_model_name_or_path === 'string' ? j.base_model_name_or_path : '',
    ...tokenIndices(j.trainable_token_indices, file),
  };
}

/** The module names a dict-form `trainable_token_indices` may use (PEFT matches module-name suffixes). */
const EMBED_NAMES = ['embed_tokens', 'model.embed_tokens'];
const HEAD_NAMES = ['lm_head'];

function tokenIndices(
  tti: unknown,
  file: string,
): Pick<ParsedAdapterConfig, 'tokenIndices' | 'headTokenIndices' | 'tokenForm'> {
  const field = 'trainable_token_indices';
  const ids = (value: unknown, where: string): number[] => {
    if (!Array.isArray(value) || !value.every((i) => Number.isInteger(i) && i >= 0))
      throw new FormatError(file, where, `${JSON.stringify(value)} is not a list of token ids`);
    if (new Set(value).size !== value.length)
      throw new FormatError(file, where, `${JSON.stringify(value)} lists an id twice`);
    return value as number[];
  };
  if (tti == null) return { tokenIndices: null, headTokenIndices: null, tokenForm: null };
  if (Array.isArray(tti)) return { tokenIndices: ids(tti, field), headTokenIndices: null, tokenForm: 'list' };
  if (typeof tti !== 'object')
    throw new FormatError(
      file,
      field,
      `${JSON.stringify(tti)} is not a list of ids or a {module: ids} object`,
    );
  let embed: number[] | null = null;
  let head: number[] | null = null;
  for (const [module, value] of Object.entries(tti as Record<string, unknown>)) {
    if (EMBED_NAMES.includes(module)) embed = ids(value, `${field}.${module}`);
    else if (HEAD_NAMES.includes(module)) head = ids(value, `${field}.${module}`);
    else
      throw new FormatError(
        file,
        `${field}.${module}`,
        `rows of module ${module} are not supported; expected embed_tokens and/or lm_head`,
      );
  }
  return { tokenIndices: embed, headTokenIndices: head, tokenForm: 'dict' };
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
