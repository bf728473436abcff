// PEFT adapter import, the inverse of peft.ts: an export directory (mote_config.json + one adapter directory per
// expert, or a plain PEFT LoRA adapter directory) back into a model's MoteLinear factors and added token rows.
// Everything is read and checked first (keys, shapes, dtypes, adapter_config fields, expert config, tokens, token
// rows: peft-token-rows.ts); only then are tokens added, experts attached (when the model has none) and variables
// assigned. F32 is bit-exact. The files come from a FileSet (files.ts: files dropped on a page, or a directory:
// peft-import-node.ts).
import * as tf from '@tensorflow/tfjs';
import { attachExperts, getExperts } from '../experts/attach.js';
import type { ExpertConfig, ExpertKind } from '../experts/config.js';
import { adapterKind } from '../experts/kinds.js';
import { MoteLinear } from '../experts/mote-linear.js';
import type { ModelConfig } from '../model/config.js';
import type { LinearModule, Transformer } from '../model/transformer.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { FormatError } from '../util/errors.js';
import { type FileSet, parseJsonText, readOptionalText, readTextFile } from './files.js';
import { HF_TARGET_NAMES, linearShape, ropeHeads, rowsFromHf, transpose } from './hf-llama-layout.js';
import {
  ADAPTER_CONFIG_FILE,
  ADAPTER_WEIGHTS_FILE,
  EMBED_MATRIX_KEYS,
  EMBED_ROWS_KEY,
  HEAD_MATRIX_KEYS,
  HEAD_ROWS_KEY,
  loraKey,
  MOTE_CONFIG_FILE,
  type MoteAdapterEntry,
  type MoteConfigFile,
  type ParsedAdapterConfig,
  parseAdapterConfig,
  parseMoteConfig,
  singleLoraEntry,
} from './peft-config.js';
import { type AdapterTokenRows, planTokenRows, type SavedMatrix } from './peft-token-rows.js';
import { decodeSafetensors } from './safetensors.js';

/** What an import did. */
export interface PeftImportResult {
  /** The imported experts' kind. */
  kind: ExpertKind;
  /** Adapter names read, in mote_config.json order. */
  adapters: string[];
  /** Token rows assigned from the adapter (embed_tokens rows; whole matrices count the added rows). */
  tokenRows: number;
  /** Tokens the import added to the tokenizer (and rows to the model). */
  tokensAdded: number;
  /** Whether the import attached the experts (the model had none). */
  attached: boolean;
}

/** What an import needs from mote_config.json (or from a plain adapter_config.json). */
interface Manifest {
  experts: Partial<ExpertConfig>;
  adapters: MoteAdapterEntry[];
  /** Added tokens and their ids; `content` is '' when only the ids are known (a plain PEFT adapter). */
  addedTokens: { content: string; id: number }[];
  /** The base the adapters were made for, when recorded. */
  base: MoteConfigFile['base'] | null;
}

/** One adapter read from its files. */
interface ReadAdapter {
  entry: MoteAdapterEntry;
  /** Its weights file and its adapter_config.json, as errors name them. */
  file: string;
  configFile: string;
  config: ParsedAdapterConfig;
  tensors: Map<string, { shape: number[]; data: Float32Array }>;
}

/**
 * Loads the files of an export of `peftAdapterFiles` / `exportPeftAdapters` (or of a plain PEFT LoRA adapter
 * directory) into `model`. A model without experts gets them attached from mote_config.json; a model with experts
 * must have the same expert config. Missing step tokens are added to `tokenizer` (and rows to the model) at the
 * recorded ids. Adapters for another base shape are refused with an error naming the key, its shape and the
 * expected one.
 */
export async function importPeftAdapterFiles(
  model: Transformer,
  tokenizer: Tokenizer,
  files: FileSet,
): Promise<PeftImportResult> {
  const manifest = await readManifest(files);
  const experts = manifest.experts;
  const adapters: ReadAdapter[] = [];
  for (const entry of manifest.adapters) adapters.push(await readAdapter(files, entry));
  const attached = getExperts(model);
  if (attached) checkSameExperts(attached.config, experts, files.path(MOTE_CONFIG_FILE));
  const note = baseNote(manifest, model.config);
  for (const a of adapters) {
    checkAdapterConfig(a, experts);
    checkTensors(a, model.config, experts, note);
  }
  // the adapter holding the token rows: the shared one, or (no shared expert) every step adapter alike
  const holder = adapters.find((a) => hasTokenData(a));
  const tokensToAdd = planTokens(model, tokenizer, manifest, holder);
  const block = addedBlock(model, tokenizer, tokensToAdd.length);
  const writeRows = holder ? planTokenRows(model, tokenRowsOf(holder), block) : null;

  // ---- checks done: change the tokenizer and the model
  if (tokensToAdd.length) {
    const first = tokenizer.vocabSize;
    tokenizer.addSpecialTokens(tokensToAdd);
    model.addTokens(tokensToAdd.length, first);
  }
  if (!attached) attachExperts(model, experts);
  assignFactors(model, adapters);
  writeRows?.();
  return {
    kind: experts.kind ?? 'mote',
    adapters: adapters.map((a) => a.entry.name),
    tokenRows: holder ? tokenRowCount(holder, block) : 0,
    tokensAdded: tokensToAdd.length,
    attached: !attached,
  };
}

// ---------------------------------------------------------------- reading

/** mote_config.json, or one synthesised for a plain PEFT LoRA adapter directory. */
async function readManifest(files: FileSet): Promise<Manifest> {
  const path = files.path(MOTE_CONFIG_FILE);
  const text = await readOptionalText(files, MOTE_CONFIG_FILE);
  if (text !== undefined) {
    const m = parseMoteConfig(parseJsonText(text, path), path);
    return { experts: m.experts, adapters: m.adapters, addedTokens: m.addedTokens, base: m.base };
  }
  const configPath = files.path(ADAPTER_CONFIG_FILE);
  const adapterText = await readOptionalText(files, ADAPTER_CONFIG_FILE);
  if (adapterText === undefined)
    throw new Error(
      `importPeftAdapters: ${files.label} has neither ${MOTE_CONFIG_FILE} nor ${ADAPTER_CONFIG_FILE}`,
    );
  const c = parseAdapterConfig(parseJsonText(adapterText, configPath), configPath);
  const experts: Partial<ExpertConfig> = {
    kind: 'lora',
    rank: c.rank,
    loraAlpha: c.loraAlpha,
    rsLora: c.rsLora,
    dropout: c.dropout,
    targets: c.targets,
  };
  const entry = singleLoraEntry(c.loraAlpha, c.tokenIndices !== null || c.headTokenIndices !== null);
  return { experts, adapters: [entry], addedTokens: [], base: null };
}

async function readAdapter(files: FileSet, entry: MoteAdapterEntry): Promise<ReadAdapter> {
  const at = (name: string) => (entry.dir === '.' ? name : `${entry.dir}/${name}`);
  const configFile = files.path(at(ADAPTER_CONFIG_FILE));
  if ((await files.size(at(ADAPTER_CONFIG_FILE))) === null)
    throw new FormatError(configFile, '', `cannot read (no such file): adapter ${entry.name} is missing`);
  const text = await readTextFile(files, at(ADAPTER_CONFIG_FILE));
  const config = parseAdapterConfig(parseJsonText(text, configFile), configFile);
  const file = files.path(at(ADAPTER_WEIGHTS_FILE));
  if ((await files.size(at(ADAPTER_WEIGHTS_FILE))) === null)
    throw new FormatError(file, '', `missing: adapter ${entry.name} has no weights`);
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [key, t] of decodeSafetensors(await files.read(at(ADAPTER_WEIGHTS_FILE)), file).tensors) {
    if (t.dtype !== 'F32' && t.dtype !== 'F16' && t.dtype !== 'BF16')
      throw new FormatError(file, key, `dtype ${t.dtype} is not supported; expected F32, F16 or BF16`);
    tensors.set(key, { shape: t.shape, data: t.data as Float32Array });
  }
  return { entry, file, configFile, config, tensors };
}

// ---------------------------------------------------------------- checks

const SHAPE_KEYS = [
  'kind',
  'rank',
  'stepExperts',
  'shared',
  'targets',
  'alpha',
  'loraAlpha',
  'rsLora',
] as const;

function checkSameExperts(have: Readonly<ExpertConfig>, want: Partial<ExpertConfig>, file: string): void {
  for (const k of SHAPE_KEYS) {
    if (
      want[k] === undefined ||
      // experts that route no tokens do not use the routing keys
      (adapterKind(have).routing === 'none' && (k === 'alpha' || k === 'stepExperts' || k === 'shared'))
    )
      continue;
    if (
      k === 'targets'
        ? !sameSet(have.targets, want.targets!)
        : JSON.stringify(have[k]) !== JSON.stringify(want[k])
    )
      throw new Error(
        `importPeftAdapters: ${file}: experts.${k} is ${JSON.stringify(want[k])} but the model's attached experts have ${JSON.stringify(have[k])}`,
      );
  }
}

function checkAdapterConfig(a: ReadAdapter, experts: Partial<ExpertConfig>): void {
  const file = a.configFile;
  const fail = (field: string, got: unknown, want: unknown) => {
    throw new FormatError(
      file,
      field,
      `${JSON.stringify(got)} differs from ${MOTE_CONFIG_FILE} (${JSON.stringify(want)})`,
    );
  };
  if (a.config.rank !== experts.rank) fail('r', a.config.rank, experts.rank);
  if (a.config.rsLora !== (experts.rsLora ?? false)) fail('use_rslora', a.config.rsLora, experts.rsLora);
  const hf = (t: readonly LinearModule[] = []) => t.map((m) => HF_TARGET_NAMES[m]);
  if (!sameSet(a.config.targets, experts.targets ?? []))
    fail('target_modules', hf(a.config.targets), hf(experts.targets));
  const want = a.entry.loraAlpha;
  if (Math.abs(a.config.loraAlpha - want) > 1e-9 * Math.max(1, Math.abs(want)))
    fail(
      'lora_alpha',
      a.config.loraAlpha,
      `${want} = weight ${a.entry.weight} × loraAlpha ${experts.loraAlpha}`,
    );
}

/** Every expected key present with its shape (whole embedding matrices: checked with the token rows), nothing else. */
function checkTensors(a: ReadAdapter, c: ModelConfig, experts: Partial<ExpertConfig>, note: string): void {
  const r = experts.rank!;
  const expected = new Map<string, number[]>();
  for (let l = 0; l < c.numLayers; l++)
    for (const m of experts.targets!) {
      const [inF, outF] = linearShape(c, m);
      expected.set(loraKey(l, m, 'A'), [r, inF]);
      expected.set(loraKey(l, m, 'B'), [outF, r]);
    }
  const { tokenIndices: E, headTokenIndices: H } = a.config;
  if (E) expected.set(EMBED_ROWS_KEY, [E.length, c.dim]);
  if (H && !c.tiedEmbeddings) expected.set(HEAD_ROWS_KEY, [H.length, c.dim]);
  for (const [key, want] of expected) {
    const t = a.tensors.get(key);
    if (!t) throw new FormatError(a.file, key, `missing (expected shape [${want}])${note}`);
    if (t.shape.join() !== want.join())
      throw new FormatError(a.file, key, `has shape [${t.shape}]; this model expects [${want}]${note}`);
  }
  for (const keys of [EMBED_MATRIX_KEYS, HEAD_MATRIX_KEYS])
    if (keys.filter((k) => a.tensors.has(k)).length > 1)
      throw new FormatError(a.file, keys[1], `saved twice (also as ${keys[0]}); expected one matrix`);
  const matrices = new Set<string>([...EMBED_MATRIX_KEYS, ...HEAD_MATRIX_KEYS]);
  for (const key of a.tensors.keys()) {
    if (expected.has(key) || matrices.has(key)) continue;
    const layer = /\.layers\.(\d+)\./.exec(key);
    if (layer && Number(layer[1]) >= c.numLayers)
      throw new FormatError(
        a.file,
        key,
        `layer ${layer[1]} does not exist in this model (${c.numLayers} layers)${note}`,
      );
    if (key === HEAD_ROWS_KEY)
      throw new FormatError(
        a.file,
        key,
        c.tiedEmbeddings
          ? 'lm_head rows, but this model ties lm_head to the embedding'
          : 'lm_head rows that adapter_config.json does not list (trainable_token_indices.lm_head)',
      );
    if (key === EMBED_ROWS_KEY)
      throw new FormatError(
        a.file,
        key,
        'token rows that adapter_config.json does not list (trainable_token_indices)',
      );
    const what = `a ${experts.targets!.join('/')} LoRA factor or a token row of this model`;
    throw new FormatError(a.file, key, `unexpected key (not ${what})${note}`);
  }
}

/** "(the adapters were made for …)" when mote_config.json's base differs from the model, else ''. */
function baseNote(m: Manifest, c: ModelConfig): string {
  const b = m.base;
  if (!b) return '';
  const pairs: [string, unknown, unknown][] = [
    ['hidden_size', b.hidden_size, c.dim],
    ['intermediate_size', b.intermediate_size, c.hiddenDim],
    ['num_hidden_layers', b.num_hidden_layers, c.numLayers],
    ['num_attention_heads', b.num_attention_heads, c.numHeads],
    ['num_key_value_heads', b.num_key_value_heads, c.numKvHeads],
  ];
  const diff = pairs.filter(([, x, y]) => x !== y);
  if (!diff.length) return '';
  return ` (the adapters were made for another base: ${diff.map(([k, x, y]) => `${k} ${x}, this model ${y}`).join('; ')})`;
}

/**
 * The named tokens to add so that every added token of the export has its recorded id; the ids of a plain PEFT
 * adapter's rows must be in the tokenizer already. Throws if that cannot be.
 */
function planTokens(
  model: Transformer,
  tokenizer: Tokenizer,
  m: Manifest,
  holder: ReadAdapter | undefined,
): string[] {
  if (tokenizer.vocabSize > model.config.vocabSize)
    throw new Error(
      `importPeftAdapters: the tokenizer has ${tokenizer.vocabSize} ids but the model only ${model.config.vocabSize} rows`,
    );
  const add: string[] = [];
  for (const { content, id } of [...m.addedTokens].sort((a, b) => a.id - b.id)) {
    const have = tokenizer.pieceToId(content);
    if (have === id) continue;
    if (have !== undefined || id !== tokenizer.vocabSize + add.length)
      throw new Error(
        `importPeftAdapters: token ${JSON.stringify(content)} needs id ${id}, but the tokenizer ${have !== undefined ? `has it at ${have}` : `has ${tokenizer.vocabSize + add.length} ids`}`,
      );
    add.push(content);
  }
  const ids = [...(holder?.config.tokenIndices ?? []), ...(holder?.config.headTokenIndices ?? [])];
  const vocab = tokenizer.vocabSize + add.length;
  for (const id of ids)
    if (id >= vocab)
      throw new Error(
        `importPeftAdapters: the adapter has a trained row for token id ${id}, but the tokenizer has ${vocab} ids (a plain PEFT adapter does not name its tokens: add them to the tokenizer and the model first)`,
      );
  return add;
}

/** The model's added rows once `adding` tokens are added after the tokenizer's ids. */
function addedBlock(model: Transformer, tokenizer: Tokenizer, adding: number) {
  const n = model.addedEmbedding?.shape[0] ?? 0;
  const vocab = tokenizer.vocabSize + adding;
  if (adding > 0 && n > 0 && model.addedStart + n !== tokenizer.vocabSize)
    throw new Error(
      `importPeftAdapters: the model's added rows end at id ${model.addedStart + n} but the tokenizer's ids at ${tokenizer.vocabSize}; new tokens would not get the next rows`,
    );
  const start = n > 0 ? model.addedStart : adding > 0 ? tokenizer.vocabSize : model.config.vocabSize;
  return { start, end: start + n + adding, vocab };
}

const hasTokenData = (a: ReadAdapter) =>
  a.config.tokenIndices !== null ||
  a.config.headTokenIndices !== null ||
  [...EMBED_MATRIX_KEYS, ...HEAD_MATRIX_KEYS].some((k) => a.tensors.has(k));

function tokenRowsOf(a: ReadAdapter): AdapterTokenRows {
  const matrix = (keys: readonly string[]): SavedMatrix | null => {
    const key = keys.find((k) => a.tensors.has(k));
    return key ? { key, ...a.tensors.get(key)! } : null;
  };
  return {
    configFile: a.configFile,
    file: a.file,
    embedIds: a.config.tokenIndices,
    embedRows: a.config.tokenIndices ? a.tensors.get(EMBED_ROWS_KEY)!.data : null,
    headIds: a.config.headTokenIndices,
    headRows: a.config.headTokenIndices ? (a.tensors.get(HEAD_ROWS_KEY)?.data ?? null) : null,
    form: a.config.tokenForm,
    embedMatrix: matrix(EMBED_MATRIX_KEYS),
    headMatrix: matrix(HEAD_MATRIX_KEYS),
  };
}

/** Rows the import sets: the block's when a whole matrix comes along, else the listed embedding rows. */
function tokenRowCount(a: ReadAdapter, block: { start: number; end: number }): number {
  if ([...EMBED_MATRIX_KEYS, ...HEAD_MATRIX_KEYS].some((k) => a.tensors.has(k)))
    return block.end - block.start;
  return a.config.tokenIndices?.length ?? 0;
}

// ---------------------------------------------------------------- assigning

/** Sets every MoteLinear's factors from the adapters: step experts stacked in index order, then the shared one. */
function assignFactors(model: Transformer, adapters: ReadAdapter[]): void {
  const c = model.config;
  tf.tidy(() => {
    for (const s of model.linearSlots()) {
      const l = s.get();
      if (!(l instanceof MoteLinear)) continue;
      const r = l.config.rank;
      const [inF, outF] = [l.inFeatures, l.outFeatures];
      const heads = ropeHeads(c, s.module);
      const A = (a: ReadAdapter) => transpose(a.tensors.get(loraKey(s.layer, s.module, 'A'))!.data, r, inF); // (in, r)
      const B = (a: ReadAdapter) =>
        transpose(rowsFromHf(a.tensors.get(loraKey(s.layer, s.module, 'B'))!.data, outF, r, heads), outF, r); // (r, out)
      if (l.stepA && l.stepB) {
        const E = l.experts.length;
        const stepA = new Float32Array(inF * E * r);
        const stepB = new Float32Array(E * r * outF);
        l.experts.forEach((name, e) => {
          const a = adapters.find((x) => x.entry.role === 'step' && x.entry.name === name)!;
          const Ae = A(a);
          for (let i = 0; i < inF; i++) stepA.set(Ae.subarray(i * r, (i + 1) * r), i * E * r + e * r);
          stepB.set(B(a), e * r * outF);
        });
        l.stepA.assign(tf.tensor2d(stepA, [inF, E * r]));
        l.stepB.assign(tf.tensor2d(stepB, [E * r, outF]));
      }
      if (l.sharedA && l.sharedB) {
        const a = adapters.find((x) => x.entry.role !== 'step')!;
        l.sharedA.assign(tf.tensor2d(A(a), [inF, r]));
        l.sharedB.assign(tf.tensor2d(B(a), [r, outF]));
      }
    }
  });
}

const sameSet = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((x) => b.includes(x));
