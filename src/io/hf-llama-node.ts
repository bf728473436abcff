// Hugging Face model directories on disk: read (hf-llama.ts over the directory's files) and written (config.json +
// model.safetensors, or shards + model.safetensors.index.json, each file atomically).
import { join } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from '../model/config.js';
import { Linear } from '../model/linear.js';
import type { Transformer } from '../model/transformer.js';
import { writeFileAtomic } from './atomic.js';
import { directoryFiles } from './files-node.js';
import {
  HF_CONFIG_FILE,
  HF_INDEX_FILE,
  HF_WEIGHTS_FILE,
  type HfEntry,
  hfConfigFromFiles,
  hfEntries,
  hfLlamaFromFiles,
  type LoadHfOptions,
  readHfLlamaFiles,
} from './hf-llama.js';
import { type HfConfigOptions, type HfModelDescription, hfConfigFromModel } from './hf-llama-config.js';
import { biasToHf, linearToHf, ropeHeads, transpose } from './hf-llama-layout.js';
import type { HostTensor, WritableDtype } from './safetensors.js';
import { writeSafetensors } from './safetensors-node.js';

// ---------------------------------------------------------------- reading

/** Loads a HF Llama/Qwen2/Mistral directory into a Transformer (base weights frozen unless `trainable`). */
export function loadHfLlama(dir: string, options: LoadHfOptions = {}): Promise<Transformer> {
  return hfLlamaFromFiles(directoryFiles(dir), options);
}

/** Reads and validates `dir`/config.json alone (no weights): family, ModelConfig, stored dtype. */
export function readHfConfig(dir: string, options: HfConfigOptions = {}): Promise<HfModelDescription> {
  return hfConfigFromFiles(directoryFiles(dir), options);
}

/**
 * Reads config.json and the weights of `dir` (our names and layout, the caller owns the tensors); see
 * `readHfLlamaFiles`.
 */
export function readHfLlama(
  dir: string,
  options: HfConfigOptions = {},
): Promise<{ config: Readonly<ModelConfig>; weights: Map<string, tf.Tensor> }> {
  return readHfLlamaFiles(directoryFiles(dir), options);
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
