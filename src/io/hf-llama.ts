// Hugging Face model directories of the Llama family (Llama, Qwen2, Mistral: hf-llama-config.ts): config.json +
// model.safetensors, or shards listed by model.safetensors.index.json (`weight_map`), F32/F16/BF16. Read from a
// FileSet (files.ts: a directory on disk, or files dropped on a page) into our Transformer tensor by tensor (q/k rows
// and biases un-permuted to llama2.c's RoPE pairing, matrices transposed to (in, out): hf-llama-layout.ts). Paths
// and writing are in hf-llama-node.ts.
import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from '../model/config.js';
import { type BuildOptions, LINEAR_MODULES, type LinearModule, Transformer } from '../model/transformer.js';
import { FormatError } from '../util/errors.js';
import { type FileSet, parseJsonText, readTextFile } from './files.js';
import {
  describeHfConfig,
  HF_FAMILIES,
  type HfConfigOptions,
  type HfModelDescription,
} from './hf-llama-config.js';
import {
  biasFromHf,
  hfLinearPath,
  linearFromHf,
  linearShape,
  ropeHeads,
  transpose,
} from './hf-llama-layout.js';
import { SafetensorsReader } from './safetensors-reader.js';

export const HF_CONFIG_FILE = 'config.json';
export const HF_WEIGHTS_FILE = 'model.safetensors';
export const HF_INDEX_FILE = 'model.safetensors.index.json';

/** One tensor of the HF checkpoint: its HF name, HF shape, and our name. */
export interface HfEntry {
  hf: string;
  shape: number[];
  ours: string;
  /** The projection of a weight (transposed, q/k rows permuted) or bias (q/k permuted); null for the rest. */
  module: LinearModule | null;
  bias: boolean;
}

/** Every tensor a model of shape `c` holds, in HF order. */
export function hfEntries(c: ModelConfig): HfEntry[] {
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

/** Loads a HF Llama/Qwen2/Mistral model's files into a Transformer (base weights frozen unless `trainable`). */
export async function hfLlamaFromFiles(files: FileSet, options: LoadHfOptions = {}): Promise<Transformer> {
  const { config, weights } = await readHfLlamaFiles(files, options);
  return Transformer.fromWeights(config, weights, options);
}

/** Reads and validates config.json alone (no weights): family, ModelConfig, stored dtype. */
export async function hfConfigFromFiles(
  files: FileSet,
  options: HfConfigOptions = {},
): Promise<HfModelDescription> {
  const configPath = files.path(HF_CONFIG_FILE);
  if ((await files.size(HF_CONFIG_FILE)) === null)
    throw new FormatError(
      configPath,
      '',
      'cannot read (no such file); is this a Hugging Face model directory?',
    );
  const text = await readTextFile(files, HF_CONFIG_FILE);
  return describeHfConfig(parseJsonText(text, configPath), configPath, options);
}

/**
 * Reads config.json and the weights (our names and layout, the caller owns the tensors). Every file's header is
 * read and every tensor's name, dtype and shape checked against config.json before any weight is read; then each
 * tensor is read from its byte range, converted to float32, laid out as ours, uploaded, and its host copy dropped.
 */
export async function readHfLlamaFiles(
  source: FileSet,
  options: HfConfigOptions = {},
): Promise<{ config: Readonly<ModelConfig>; weights: Map<string, tf.Tensor> }> {
  const { config, family } = await hfConfigFromFiles(source, options);
  const entries = new Map(hfEntries(config).map((e) => [e.hf, e]));
  const { files: plan, single } = await weightFiles(source, entries, family);
  const files = new Map<string, SafetensorsReader>();
  const weights = new Map<string, tf.Tensor>();
  try {
    for (const [shard, names] of plan) {
      const file = await SafetensorsReader.open(source, shard);
      files.set(shard, file);
      if (single) checkNames([...file.tensors.keys()], entries, file.path, family);
      for (const name of names) checkTensor(file, name, entries.get(name)!);
    }
    for (const [shard, names] of plan)
      for (const name of names) {
        const e = entries.get(name)!;
        const data = (await files.get(shard)!.read(name)) as Float32Array; // checkTensor: float dtypes only
        weights.set(e.ours, toOurs(data, e, config));
      }
  } catch (err) {
    for (const t of weights.values()) t.dispose();
    throw err;
  }
  return { config, weights };
}

/** The header entry of `name` in `file` exists, is F32/F16/BF16, and has config.json's shape. */
function checkTensor(file: SafetensorsReader, name: string, e: HfEntry): void {
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
  source: FileSet,
  entries: Map<string, HfEntry>,
  family: keyof typeof HF_FAMILIES,
): Promise<{ files: Map<string, string[]>; single: boolean }> {
  const indexPath = source.path(HF_INDEX_FILE);
  if ((await source.size(HF_WEIGHTS_FILE)) !== null)
    return { files: new Map([[HF_WEIGHTS_FILE, [...entries.keys()]]]), single: true };
  if ((await source.size(HF_INDEX_FILE)) === null) {
    const present = await source.names().catch(() => [] as string[]);
    const other = present.filter((f) => /\.(bin|pt|pth|gguf)$/.test(f));
    throw new FormatError(
      source.label,
      '',
      `no ${HF_WEIGHTS_FILE} or ${HF_INDEX_FILE}${other.length ? ` (found ${other.join(', ')}: only safetensors weights are read)` : ''}`,
    );
  }
  const index = parseJsonText(await readTextFile(source, HF_INDEX_FILE), indexPath) as {
    weight_map?: unknown;
  };
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
    if (!files.has(shard)) files.set(shard, []);
    files.get(shard)!.push(name);
  }
  for (const [shard, names] of files)
    if ((await source.size(shard)) === null)
      throw new FormatError(
        indexPath,
        'weight_map',
        `shard ${source.path(shard)} is missing (it holds ${names.length} tensors, e.g. ${names[0]})`,
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
