// PEFT-compatible adapter export: each MoTE expert (analysis/, guidance/, answer/, shared/) becomes one PEFT LoRA
// adapter directory for the HF Llama base, plus mote_config.json saying how they combine; a single LoRA becomes
// one adapter directory. Layout per adapter (peft-config.ts): adapter_config.json + adapter_model.safetensors with
//   base_model.model.model.layers.L.<self_attn|mlp>.<q|k|v|o|gate|up|down>_proj.lora_A.weight  [r, in]   = our Aᵀ
//   ….lora_B.weight                                                                         [out, r]  = our Bᵀ
// (q_proj/k_proj lora_B rows permuted to HF's RoPE order like the base weights), and the trained rows of the added
// step tokens as PEFT `trainable_token_indices` rows at their real ids, whether they grew the matrix or reuse its
// padding rows (only those rows, never whole embed_tokens/lm_head copies).
//
// α folding: MoTE computes, for a token of step s, W0 + α·scale·B_s·A_s + (1 − α)·scale·B_sh·A_sh with
// scale = loraAlpha / r (/ √r for rsLoRA). Factors are stored unscaled and each adapter's mixing weight is folded
// into its lora_alpha (step: α·loraAlpha, shared: (1 − α)·loraAlpha), so PEFT's own scaling lora_alpha / r gives each
// adapter exactly its MoTE term, and the step adapter and the shared adapter active together (summed) are MoTE's
// step s. Unscaled factors make the F32 round trip bit-exact. The import side is peft-import.ts. The files are built
// in memory here (a page offers them as downloads); peft-node.ts writes them into a directory.
import { type AttachedExperts, requireExperts } from '../experts/attach.js';
import type { ExpertKind } from '../experts/config.js';
import { adapterKind } from '../experts/kinds.js';
import { MoteLinear } from '../experts/mote-linear.js';
import type { LinearModule, Transformer } from '../model/transformer.js';
import { STEP_TOKENS } from '../steps.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { ropeHeads, rowsToHf, transpose } from './hf-llama-layout.js';
import { canSaveTokenizerFiles, tokenizerFileTexts } from './hf-tokenizer-files.js';
import {
  ADAPTER_CONFIG_FILE,
  ADAPTER_WEIGHTS_FILE,
  adapterConfigJson,
  EMBED_ROWS_KEY,
  HEAD_ROWS_KEY,
  loraKey,
  MOTE_CONFIG_FILE,
  MOTE_CONFIG_FORMAT,
  MOTE_CONFIG_VERSION,
  type MoteAdapterEntry,
  type MoteConfigFile,
  singleLoraEntry,
} from './peft-config.js';
import { encodeSafetensors, type HostTensor } from './safetensors.js';

export interface PeftFilesOptions {
  /**
   * `base_model_name_or_path` of every adapter: the HF id or directory of the base, what `from_pretrained` loads.
   * Never a llama2.c `.bin` (transformers cannot read it: export the base with saveHfLlama and name that directory).
   * Default ''.
   */
  baseModelNameOrPath?: string;
  /** Stored dtype of the adapter weights. Default F32 (the only bit-exact one). */
  dtype?: 'F32' | 'F16' | 'BF16';
  /** The bytes of the tokenizer.bin a llama2.c tokenizer was read from: needed to write tokenizer.json. */
  tokenizerBin?: Uint8Array;
}

/** What an export holds. */
export interface PeftFilesSummary {
  /** The exported experts' kind (one with a PEFT form: experts/kinds.ts). */
  kind: ExpertKind;
  adapters: { name: string; dir: string; tensors: number }[];
  /** Number of added token rows exported (step tokens). */
  tokenRows: number;
  /** Whether tokenizer.json was written (else only added_tokens.json). */
  tokenizerJson: boolean;
}

/** The files of an export (name → bytes, '/'-separated, in the order they are written) and what they hold. */
export interface PeftFiles {
  files: Map<string, Uint8Array>;
  summary: PeftFilesSummary;
}

/** The α-folding convention, as written into mote_config.json (`folding`). */
export const FOLDING =
  'lora_A/lora_B are stored unscaled; each adapter folds its MoTE mixing weight into lora_alpha ' +
  '(step experts: alpha * loraAlpha, shared expert: (1 - alpha) * loraAlpha). PEFT scales an adapter by ' +
  'lora_alpha / r (lora_alpha / sqrt(r) with use_rslora), so the step-s adapter adds alpha*scale*B_s*A_s and the ' +
  'shared adapter (1 - alpha)*scale*B_sh*A_sh: with both active (their outputs summed) the model is MoTE for tokens ' +
  'of step s, W0 + alpha*scale*B_s*A_s + (1 - alpha)*scale*B_sh*A_sh, scale = loraAlpha / r (or / sqrt(r)).';

/**
 * The attached experts of `model` (kind 'mote' or 'lora') as the files of PEFT LoRA adapters: for MoTE one
 * sub-directory per step expert and `shared/`, for a single LoRA the adapter files at the top; plus
 * mote_config.json, added_tokens.json and (when it can) the tokenizer with its added tokens.
 */
export function peftAdapterFiles(
  model: Transformer,
  tokenizer: Tokenizer,
  options: PeftFilesOptions = {},
): PeftFiles {
  const experts = requireExperts(model, 'exportPeftAdapters');
  const c = experts.config;
  if (!adapterKind(c).peft)
    throw new Error(
      `exportPeftAdapters: ${c.kind} experts have no PEFT LoRA equivalent (a learned gate mixes them)`,
    );
  const baseModel = options.baseModelNameOrPath ?? '';
  if (/\.bin$/i.test(baseModel))
    throw new Error(
      `exportPeftAdapters: baseModelNameOrPath ${baseModel} looks like a llama2.c checkpoint, which from_pretrained cannot load; write the base as a Hugging Face directory (saveHfLlama, or mote export --format hf) and name that directory or a HF model id`,
    );
  const rows = addedRows(model, tokenizer);
  const entries = adapterEntries(experts, tokenizer, rows.tokens.length > 0);
  const layers = new HostLayers(model);
  const files = new Map<string, Uint8Array>();
  const json = (value: unknown) => utf8.encode(`${JSON.stringify(value, null, 2)}\n`);
  const summary: PeftFilesSummary = {
    kind: c.kind,
    adapters: [],
    tokenRows: rows.tokens.length,
    tokenizerJson: false,
  };
  for (const [i, entry] of entries.entries()) {
    const tensors = new Map<string, HostTensor>();
    for (const s of layers.slots) {
      const { A, B } = layers.factors(s, entry, c.stepExperts);
      const [inF, outF] = [s.layer.inFeatures, s.layer.outFeatures];
      tensors.set(loraKey(s.index, s.module, 'A'), { shape: [c.rank, inF], data: transpose(A, inF, c.rank) });
      const b = rowsToHf(transpose(B, c.rank, outF), outF, c.rank, ropeHeads(model.config, s.module));
      tensors.set(loraKey(s.index, s.module, 'B'), { shape: [outF, c.rank], data: b });
    }
    if (entry.tokenRows) for (const [k, t] of rows.tensors) tensors.set(k, t);
    const at = (name: string) => (entry.dir === '.' ? name : `${entry.dir}/${name}`);
    files.set(
      at(ADAPTER_WEIGHTS_FILE),
      encodeSafetensors(tensors, { dtype: options.dtype ?? 'F32', metadata: { format: 'pt' } }),
    );
    const config = adapterConfigJson({
      rank: c.rank,
      loraAlpha: entry.loraAlpha,
      rsLora: c.rsLora,
      dropout: c.dropout,
      targets: c.targets,
      baseModel,
      tokenIndices: entry.tokenRows ? rows.tokens.map((t) => t.id) : null,
      tiedEmbeddings: model.config.tiedEmbeddings,
    });
    files.set(at(ADAPTER_CONFIG_FILE), json(config));
    summary.adapters[i] = { name: entry.name, dir: entry.dir, tensors: tensors.size };
  }
  const manifest = moteConfig(model, experts, entries, rows.tokens, baseModel);
  files.set(MOTE_CONFIG_FILE, json(manifest));
  files.set('added_tokens.json', json(Object.fromEntries(rows.tokens.map((t) => [t.content, t.id]))));
  if (canSaveTokenizerFiles(tokenizer, { llama2cBin: options.tokenizerBin })) {
    for (const [name, text] of tokenizerFileTexts(tokenizer, options.tokenizerBin))
      files.set(name, utf8.encode(text));
    summary.tokenizerJson = true;
  }
  return { files, summary };
}

const utf8 = new TextEncoder();

// ---------------------------------------------------------------- what goes where

/** The adapters of an attachment: one per step expert then `shared` (MoTE), or one `lora` in the top directory. */
function adapterEntries(
  experts: AttachedExperts,
  tokenizer: Tokenizer,
  hasRows: boolean,
): MoteAdapterEntry[] {
  const c = experts.config;
  if (adapterKind(c).peft === 'single') return [singleLoraEntry(c.loraAlpha, hasRows)];
  const out: MoteAdapterEntry[] = c.stepExperts.map((step) => {
    const { start, end } = STEP_TOKENS[step];
    return {
      name: step,
      dir: step,
      role: 'step',
      weight: c.alpha,
      loraAlpha: c.alpha * c.loraAlpha,
      stepTokens: {
        start,
        end,
        startId: tokenizer.pieceToId(start) ?? null,
        endId: tokenizer.pieceToId(end) ?? null,
      },
      tokenRows: hasRows && !c.shared, // without a shared expert every step adapter carries the rows
    };
  });
  if (c.shared)
    out.push({
      name: 'shared',
      dir: 'shared',
      role: 'shared',
      weight: 1 - c.alpha,
      loraAlpha: (1 - c.alpha) * c.loraAlpha,
      stepTokens: null,
      tokenRows: hasRows, // the shared adapter is always active: the rows live there, once
    });
  return out;
}

/**
 * The added token rows as PEFT trainable-token tensors, with their tokens: the ids [addedStart, addedStart + n),
 * appended to the base's rows or over its padding rows, each an added token of the tokenizer.
 */
function addedRows(
  model: Transformer,
  tokenizer: Tokenizer,
): { tokens: { content: string; id: number }[]; tensors: Map<string, HostTensor> } {
  const V = model.config.vocabSize;
  if (tokenizer.vocabSize > V)
    throw new Error(
      `exportPeftAdapters: the tokenizer has ${tokenizer.vocabSize} ids, the model only ${V} rows; every id needs a row`,
    );
  const n = model.addedEmbedding?.shape[0] ?? 0;
  const d = model.config.dim;
  const byId = new Map([...tokenizer.specialTokens].map(([content, id]) => [id, content]));
  const tokens = Array.from({ length: n }, (_, i) => {
    const id = model.addedStart + i;
    const content = byId.get(id);
    if (content === undefined)
      throw new Error(
        `exportPeftAdapters: added row ${id} has no added token in the tokenizer (${id < tokenizer.vocabSize ? tokenizer.idToPiece(id) : `it has ${tokenizer.vocabSize} ids`})`,
      );
    return { content, id };
  });
  const tensors = new Map<string, HostTensor>();
  if (n === 0) return { tokens, tensors };
  tensors.set(EMBED_ROWS_KEY, { shape: [n, d], data: model.addedEmbedding!.dataSync() as Float32Array });
  if (model.addedHead)
    tensors.set(HEAD_ROWS_KEY, {
      shape: [n, d],
      data: transpose(model.addedHead.dataSync() as Float32Array, d, n),
    });
  return { tokens, tensors };
}

/** Host copies of every adapted projection's factors, read once each. */
class HostLayers {
  readonly slots: { index: number; module: LinearModule; layer: MoteLinear }[];
  private readonly cache = new Map<MoteLinear, Record<string, Float32Array>>();

  constructor(model: Transformer) {
    this.slots = model
      .linearSlots()
      .filter((s) => s.get() instanceof MoteLinear)
      .map((s) => ({ index: s.layer, module: s.module, layer: s.get() as MoteLinear }));
  }

  /** A (in, r) and B (r, out) of one adapter entry at one projection. */
  factors(
    s: { layer: MoteLinear },
    entry: MoteAdapterEntry,
    steps: readonly string[],
  ): { A: Float32Array; B: Float32Array } {
    const l = s.layer;
    let host = this.cache.get(l);
    if (!host) {
      host = {};
      for (const k of ['stepA', 'stepB', 'sharedA', 'sharedB'] as const) {
        const v = l[k];
        if (v) host[k] = v.dataSync() as Float32Array;
      }
      this.cache.set(l, host);
    }
    if (entry.role !== 'step') return { A: host.sharedA, B: host.sharedB };
    const r = l.config.rank;
    const E = steps.length;
    const e = steps.indexOf(entry.name);
    const A = new Float32Array(l.inFeatures * r);
    for (let i = 0; i < l.inFeatures; i++)
      A.set(host.stepA.subarray(i * E * r + e * r, i * E * r + (e + 1) * r), i * r);
    const B = host.stepB.slice(e * r * l.outFeatures, (e + 1) * r * l.outFeatures);
    return { A, B };
  }
}

function moteConfig(
  model: Transformer,
  experts: AttachedExperts,
  adapters: MoteAdapterEntry[],
  addedTokens: { content: string; id: number }[],
  baseModel: string,
): MoteConfigFile {
  const m = model.config;
  return {
    format: MOTE_CONFIG_FORMAT,
    formatVersion: MOTE_CONFIG_VERSION,
    library: 'mote-tfjs',
    base: {
      name_or_path: baseModel,
      hidden_size: m.dim,
      intermediate_size: m.hiddenDim,
      num_hidden_layers: m.numLayers,
      num_attention_heads: m.numHeads,
      num_key_value_heads: m.numKvHeads,
      vocab_size: model.embedding.shape[0],
      tie_word_embeddings: m.tiedEmbeddings,
    },
    experts: experts.config,
    adapters,
    addedTokens,
    folding: FOLDING,
    usage: usage(model, experts),
  };
}

/**
 * Python lines that load the export with transformers + PEFT (written into mote_config.json). The embedding is
 * resized only when the step tokens grew it: over padding rows (Qwen2.5) their ids are rows the base already has,
 * and `resize_token_embeddings(len(tokenizer))` would cut the padding off.
 *
 * Merging a step is done by activating its adapter with `shared` and calling `merge_and_unload()` with no names:
 * each layer merges its own active adapters, so the LoRA layers merge both and the trainable-token layer (which
 * only the shared adapter has) merges the step-token rows. `add_weighted_adapter(..., combination_type='cat')` is
 * not offered: PEFT copies the first adapter's config with lora_alpha = r and combines only the LoRA matrices, so
 * the new adapter either has no token rows (a step adapter first) or fresh ones read from the base embedding (shared
 * first): the trained step-token rows are lost either way, and with rsLoRA the copied alpha changes the scale.
 */
function usage(model: Transformer, experts: AttachedExperts): string[] {
  const c = experts.config;
  const rows = model.config.vocabSize;
  const head = [
    'tokenizer = AutoTokenizer.from_pretrained(EXPORT_DIR)  # base vocabulary + the added step tokens',
    rows > model.embedding.shape[0]
      ? `base = AutoModelForCausalLM.from_pretrained(BASE); base.resize_token_embeddings(${rows})  # rows for the step tokens`
      : 'base = AutoModelForCausalLM.from_pretrained(BASE)  # the step tokens use rows the base already has (no resize)',
  ];
  if (adapterKind(c).peft === 'single')
    return [...head, 'model = PeftModel.from_pretrained(base, EXPORT_DIR)'];
  const [first, ...rest] = c.shared ? ['shared', ...c.stepExperts] : c.stepExperts;
  const load = [
    `model = PeftModel.from_pretrained(base, f'{EXPORT_DIR}/${first}', adapter_name='${first}')`,
    ...rest.map((s) => `model.load_adapter(f'{EXPORT_DIR}/${s}', adapter_name='${s}')`),
  ];
  const s = c.stepExperts[0];
  if (!c.shared)
    return [...head, ...load, `model.set_adapter('${s}')  # no shared expert: one step adapter at a time`];
  return [
    ...head,
    ...load,
    `model.base_model.set_adapter(['${s}', 'shared'])  # step s = its adapter + shared; switch at each step token`,
    `# one plain model for step s, step-token rows included: after the set_adapter line, merged = model.merge_and_unload() (not add_weighted_adapter: it drops the token rows)`,
  ];
}
