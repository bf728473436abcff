// Hugging Face model directories of the Llama family (Llama, Qwen2, Mistral: hf-llama-config.ts): config.json +
// model.safetensors, or shards listed by model.safetensors.index.json (`weight_map`), F32/F16/BF16. Read into our
// Transformer tensor by tensor (q/k rows and biases un-permuted to llama2.c's RoPE pairing, matrices transposed to
// (in, out)) and written back the same way (hf-llama-layout.ts).
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from '../model/config.js';
import { Linear } from '../model/linear.js';
import { type BuildOptions, LINEAR_MODULES, type LinearModule, Transformer } from '../model/transformer.js';
import { FormatError } from '../util/errors.js';
import { writeFileAtomic } from './atomic.js';
import {
  describeHfConfig,
  HF_FAMILIES,
  type HfConfigOptions,
  type HfModelDescription,
  hfConfigFromModel,
} from './hf-llama-config.js';
import {
  biasFromHf,
  biasToHf,
  hfLinearPath,
  linearFromHf,
  linearShape,
  linearToHf,
  ropeHeads,
  transpose,
} from './hf-llama-layout.js';
import { type HostTensor, type WritableDtype, writeSafetensors } from './safetensors.js';
import { SafetensorsFile } from './safetensors-file.js';

export const HF_CONFIG_FILE = 'config.json';
export const HF_WEIGHTS_FILE = 'model.safetensors';
export const HF_INDEX_FILE = 'model.safetensors.index.json';

/** One tensor of the HF checkpoint: its HF name, HF shape, and our name. */
interface HfEntry {
  hf: string;
  shape: number[];
  ours: string;
  /** The projection of a weight (transposed, q/k rows permuted) or bias (q/k permuted); null for the rest. */
  module: LinearModule | null;
  bias: boolean;
}

/** Every tensor a model of shape `c` holds, in HF order. */
function hfEntries(c: ModelConfig): HfEntry[] {
  const plain = (hf: string, shape: number[], ours: string): HfEntry => ({
    hf,
    shape,
    ours,
    module: null,
    bias: false,
  });
  const out: HfEntry[] = [plain('model.embed_tokens.weight', [c.vocabSize, c.dim], 'embedding')];
  for (let l = 0; l < c.numLayers; l++) {
    const norm = (hf: string, ours: string) =>
      plain(`model.layers.${l}.${hf}.weight`, [c.dim], `blocks.${l}.${ours}.weight`);
    out.push(norm('input_layernorm', 'attnNorm'));
    for (const m of LINEAR_MODULES) {
      const [i, o] = linearShape(c, m);
      const ours = `blocks.${l}.${m === 'gate' || m === 'up' || m === 'down' ? 'mlp' : 'attn'}.${m}`;
      const hf = hfLinearPath(l, m);
      out.push({ hf: `${hf}.weight`, shape: [o, i], ours: `${ours}.weight`, module: m, bias: false });
      if (c.biases.includes(m))
        out.push({ hf: `${hf}.bias`, shape: [o], ours: `${ours}.bias`, module: m, bias: true });
    }
    out.push(norm('post_attention_layernorm', 'mlpNorm'));
  }
  out.push(plain('model.norm.weight', [c.dim], 'finalNorm.weight'));
  if (!c.tiedEmbeddings) out.push(plain('lm_head.weight', [c.vocabSize, c.dim], 'head.weight'));
  return out;
}

// ---------------------------------------------------------------- reading

export interface LoadHfOptions extends BuildOptions, HfConfigOptions {}

/** Loads a HF Llama/Qwen2/Mistral directory into a Transformer (base weights frozen unless `trainable`). */
export async function loadHfLlama(dir: string, options: LoadHfOptions = {}): Promise<Transformer> {
  const { config, weights } = await readHfLlama(dir, options);
  return Transformer.fromWeights(config, weights, options);
}

/** Reads and validates `dir`/config.json alone (no weights): family, ModelConfig, stored dtype. */
export async function readHfConfig(dir: string, options: HfConfigOptions = {}): Promise<HfModelDescription> {
  const configPath = join(dir, HF_CONFIG_FILE);
  const text = await readFile(configPath, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw new FormatError(
      configPath,
      '',
      `cannot read (${e.code ?? e.message}); is ${dir} a Hugging Face model directory?`,
    );
  });
  return describeHfConfig(parseJson(text, configPath), configPath, options);
}

/**
 * Reads config.json and the weights (our names and layout, the caller owns the tensors). Every file's header is
 * read and every tensor's name, dtype and shape checked against config.json before any weight is read; then each
 * tensor is read from its byte range, converted to float32, laid out as ours, uploaded, and its host copy dropped.
 */
export async function readHfLlama(
  dir: string,
  options: HfConfigOptions = {},
): Promise<{ config: Readonly<ModelConfig>; weights: Map<string, tf.Tensor> }> {
  const { config, family } = await readHfConfig(dir, options);
  const entries = new Map(hfEntries(config).map((e) => [e.hf, e]));
  const { files: plan, single } = await weightFiles(dir, entries, family);
  const files = new Map<string, SafetensorsFile>();
  const weights = new Map<string, tf.Tensor>();
  try {
    for (const [path, names] of plan) {
      const file = await SafetensorsFile.open(path);
      files.set(path, file);
      if (single) checkNames([...file.tensors.keys()], entries, path, family);
      for (const name of names) checkTensor(file, name, entries.get(name)!);
    }
    for (const [path, names] of plan)
      for (const name of names) {
        const e = entries.get(name)!;
        const data = (await files.get(path)!.read(name)) as Float32Array; // checkTensor: float dtypes only
        weights.set(e.ours, toOurs(data, e, config));
      }
  } catch (err) {
    for (const t of weights.values()) t.dispose();
    throw err;
  } finally {
    for (const f of files.values()) await f.close();
  }
  return { config, weights };
}

/** The header entry of `name` in `file` exists, is F32/F16/BF16, and has config.json's shape. */
function checkTensor(file: SafetensorsFile, name: string, e: HfEntry): void {
  const t = file.tensors.get(name);
  if (!t)
    throw new FormatError(file.path, `tensor ${name}`, `missing (${HF_INDEX_FILE} maps it to this shard)`);
  if (t.dtype !== 'F32' && t.dtype !== 'F16' && t.dtype !== 'BF16')
    throw new FormatError(
      file.path,
      `tensor ${name}`,
      `dtype ${t.dtype} is not supported; expected F32, F16 or BF16`,
    );
  if (t.shape.join() !== e.shape.join())
    throw new FormatError(
      file.path,
      `tensor ${name}`,
      `shape [${t.shape}] does not match ${HF_CONFIG_FILE}: expected [${e.shape}]`,
    );
}

/** An HF tensor → ours: projections and the head transposed to (in, out), q/k rows back in llama2.c RoPE order. */
function toOurs(data: Float32Array, e: HfEntry, c: ModelConfig): tf.Tensor {
  if (e.ours === 'head.weight') return tf.tensor2d(transpose(data, c.vocabSize, c.dim), [c.dim, c.vocabSize]);
  if (!e.module) return tf.tensor(data, e.shape);
  const heads = ropeHeads(c, e.module);
  if (e.bias) return tf.tensor1d(biasFromHf(data, heads));
  const [outF, inF] = e.shape;
  return tf.tensor2d(linearFromHf(data, outF, inF, heads), [inF, outF]);
}

/**
 * Which file holds which needed tensor: model.safetensors (all of them), or the shards of the index. Every shard
 * must exist and every needed tensor must be listed; unknown tensors (other than RoPE `inv_freq` buffers) are
 * refused, since they mean an architecture we would silently compute wrong (biases, extra norms…).
 */
async function weightFiles(
  dir: string,
  entries: Map<string, HfEntry>,
  family: keyof typeof HF_FAMILIES,
): Promise<{ files: Map<string, string[]>; single: boolean }> {
  const single = join(dir, HF_WEIGHTS_FILE);
  const indexPath = join(dir, HF_INDEX_FILE);
  if (await isFile(single)) return { files: new Map([[single, [...entries.keys()]]]), single: true };
  if (!(await isFile(indexPath))) {
    const present = await readdir(dir).catch(() => [] as string[]);
    const other = present.filter((f) => /\.(bin|pt|pth|gguf)$/.test(f));
    throw new FormatError(
      dir,
      '',
      `no ${HF_WEIGHTS_FILE} or ${HF_INDEX_FILE}${other.length ? ` (found ${other.join(', ')}: only safetensors weights are read)` : ''}`,
    );
  }
  const index = parseJson(await readFile(indexPath, 'utf8'), indexPath) as { weight_map?: unknown };
  const map = index?.weight_map;
  if (map === null || typeof map !== 'object' || Array.isArray(map))
    throw new FormatError(indexPath, 'weight_map', 'expected an object {tensor name: shard file}');
  const weightMap = map as Record<string, unknown>;
  checkNames(Object.keys(weightMap), entries, indexPath, family);
  const files = new Map<string, string[]>();
  for (const name of entries.keys()) {
    const shard = weightMap[name];
    if (typeof shard !== 'string' || shard.includes('/') || shard.includes('\\'))
      throw new FormatError(
        indexPath,
        `weight_map.${name}`,
        `${JSON.stringify(shard)}; expected a shard file name`,
      );
    const path = join(dir, shard);
    if (!files.has(path)) files.set(path, []);
    files.get(path)!.push(name);
  }
  for (const [path, names] of files)
    if (!(await isFile(path)))
      throw new FormatError(
        indexPath,
        'weight_map',
        `shard ${path} is missing (it holds ${names.length} tensors, e.g. ${names[0]})`,
      );
  return { files, single: false };
}

function checkNames(
  names: string[],
  entries: Map<string, HfEntry>,
  file: string,
  family: keyof typeof HF_FAMILIES,
): void {
  const present = new Set(names);
  for (const [name, e] of entries)
    if (!present.has(name))
      throw new FormatError(file, `tensor ${name}`, `missing (expected shape [${e.shape}])`);
  for (const name of names) {
    if (entries.has(name) || name.endsWith('.rotary_emb.inv_freq')) continue;
    if (name === 'lm_head.weight') continue; // a tied checkpoint may still store the head; the embedding wins
    throw new FormatError(
      file,
      `tensor ${name}`,
      `not part of a ${HF_FAMILIES[family]} of this ${HF_CONFIG_FILE} (${entries.size} tensors expected${name.endsWith('.bias') ? '; its biases are not on this projection' : ''})`,
    );
  }
}

// ---------------------------------------------------------------- writing

export interface SaveHfOptions {
  /** Stored dtype of the weights. Default F32. */
  dtype?: Exclude<WritableDtype, 'I32'>;
  /** Split the weights into shards of at most this many bytes (a larger tensor gets a shard alone). Default: one file. */
  maxShardBytes?: number;
  /** BOS / EOS ids written into config.json. Default: the model config's, else 1 / 2 (Llama). */
  bosTokenId?: number;
  eosTokenId?: number | readonly number[];
}

const TORCH_DTYPE = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' } as const;

/**
 * Writes a base-only model (no experts attached: merge or detach them first) as a HF directory of its family
 * (Llama, or Qwen2 when exactly q/k/v carry biases): config.json
 * and model.safetensors (or shards + model.safetensors.index.json). Added token rows are written as part of the
 * vocabulary (vocab_size includes them). Each file is written atomically; `loadHfLlama` reads it back exactly (F32).
 */
export async function saveHfLlama(
  model: Transformer,
  dir: string,
  options: SaveHfOptions = {},
): Promise<void> {
  const dtype = options.dtype ?? 'F32';
  if (!(dtype in TORCH_DTYPE))
    throw new Error(`saveHfLlama: dtype ${JSON.stringify(dtype)}; expected F32, F16 or BF16`);
  for (const s of model.linearSlots())
    if (!(s.get() instanceof Linear))
      throw new Error(
        `saveHfLlama: ${s.path} holds experts; call mergeAll(model, step) or detachExperts(model) first`,
      );
  const c = model.config;
  const vars = model.namedVariables();
  const tensors = new Map<string, HostTensor>();
  for (const e of hfEntries(c)) tensors.set(e.hf, { shape: e.shape, data: hfData(model, vars, e) });
  const shards = shardTensors(tensors, dtype, options.maxShardBytes);
  const metadata = { format: 'pt' };
  if (shards.length === 1) {
    await writeSafetensors(join(dir, HF_WEIGHTS_FILE), tensors, { dtype, metadata });
  } else {
    const weightMap: Record<string, string> = {};
    let total = 0;
    for (const [i, names] of shards.entries()) {
      const file = `model-${pad(i + 1)}-of-${pad(shards.length)}.safetensors`;
      const part = new Map(names.map((n) => [n, tensors.get(n)!]));
      await writeSafetensors(join(dir, file), part, { dtype, metadata });
      for (const n of names) {
        weightMap[n] = file;
        total += tensors.get(n)!.data.length * (dtype === 'F32' ? 4 : 2);
      }
    }
    const index = { metadata: { total_size: total }, weight_map: weightMap };
    await writeFileAtomic(join(dir, HF_INDEX_FILE), `${JSON.stringify(index, null, 2)}\n`);
  }
  const config = hfConfigFromModel(c, {
    bosTokenId: options.bosTokenId,
    eosTokenId: options.eosTokenId,
    torchDtype: TORCH_DTYPE[dtype],
  });
  await writeFileAtomic(join(dir, HF_CONFIG_FILE), `${JSON.stringify(config, null, 2)}\n`);
}

/** One tensor of the model in HF layout (added token rows in place in embed_tokens / lm_head). */
function hfData(model: Transformer, vars: Map<string, tf.Variable>, e: HfEntry): Float32Array {
  const read = (name: string) => vars.get(name)!.dataSync() as Float32Array;
  const table = (t: tf.Tensor2D, own: tf.Variable) => {
    const data = t.dataSync() as Float32Array;
    if (t !== own) t.dispose();
    return data;
  };
  if (e.ours === 'embedding') return table(model.embeddingTable(), model.embedding);
  if (e.ours === 'head.weight') {
    const head = table(model.headTable()!, model.head!.weight); // (d, V)
    const d = model.config.dim;
    return transpose(head, d, head.length / d); // (V, d)
  }
  if (!e.module) return read(e.ours);
  if (e.bias) return biasToHf(read(e.ours), ropeHeads(model.config, e.module));
  const [outF, inF] = e.shape;
  return linearToHf(read(e.ours), inF, outF, ropeHeads(model.config, e.module));
}

/** Groups tensor names (in order) into shards of at most maxBytes; one group when no limit is given. */
function shardTensors(tensors: Map<string, HostTensor>, dtype: WritableDtype, maxBytes?: number): string[][] {
  if (maxBytes === undefined) return [[...tensors.keys()]];
  if (!(Number.isFinite(maxBytes) && maxBytes > 0))
    throw new Error(`saveHfLlama: maxShardBytes must be a positive number, got ${maxBytes}`);
  const shards: string[][] = [];
  let bytes = 0;
  for (const [name, t] of tensors) {
    const size = t.data.length * (dtype === 'F32' ? 4 : 2);
    if (shards.length === 0 || bytes + size > maxBytes) {
      shards.push([]);
      bytes = 0;
    }
    shards[shards.length - 1].push(name);
    bytes += size;
  }
  return shards;
}

const pad = (n: number) => String(n).padStart(5, '0');

function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new FormatError(file, '', `not valid JSON (${(e as Error).message})`);
  }
}

async function isFile(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isFile(),
    () => false,
  );
}
