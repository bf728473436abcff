// Bad weights in a Hugging Face directory (a tiny Qwen2 with q/k/v biases): each refused with an error naming the
// file and the tensor, and found from the headers alone, before any tensor's data is read.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadHfLlama } from '../../../src/io/hf-llama-node.js';
import type { HostTensor } from '../../../src/io/safetensors.js';
import { SafetensorsReader } from '../../../src/io/safetensors-reader.js';
import { type TinyHfSpec, tinyHfWeights, writeTinyHfDir } from '../../helpers/hf-reference.js';

const QWEN2: TinyHfSpec = {
  family: 'qwen2',
  hidden: 16,
  intermediate: 24,
  layers: 2,
  heads: 2,
  kvHeads: 1,
  vocab: 20,
  positions: 32,
  tied: true,
  ropeTheta: 1e6,
  eps: 1e-6,
};

/** A directory with the Qwen2 weights after `edit`. */
async function dirWith(
  edit: (t: Map<string, HostTensor>) => void,
  options: Parameters<typeof writeTinyHfDir>[3] = {},
): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mote-hf-bad-'));
  const tensors = tinyHfWeights(QWEN2, 'bad');
  edit(tensors);
  await writeTinyHfDir(dir, QWEN2, tensors, options);
  return dir;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('bad weights are refused before any tensor is read', () => {
  it.each([
    [
      'a bias of the wrong shape',
      (t: Map<string, HostTensor>) =>
        t.set('model.layers.1.self_attn.k_proj.bias', { shape: [9], data: new Float32Array(9) }),
      /model\.safetensors:tensor model\.layers\.1\.self_attn\.k_proj\.bias: shape \[9\] does not match config\.json: expected \[8\]/,
    ],
    [
      'a transposed weight',
      (t: Map<string, HostTensor>) => {
        const w = t.get('model.layers.1.mlp.down_proj.weight')!;
        t.set('model.layers.1.mlp.down_proj.weight', { shape: [24, 16], data: w.data });
      },
      /tensor model\.layers\.1\.mlp\.down_proj\.weight: shape \[24,16\] does not match config\.json: expected \[16,24\]/,
    ],
    [
      'an integer tensor',
      (t: Map<string, HostTensor>) => t.set('model.norm.weight', { shape: [16], data: new Int32Array(16) }),
      /model\.safetensors:tensor model\.norm\.weight: dtype I32 is not supported; expected F32, F16 or BF16/,
    ],
    [
      'a missing q bias',
      (t: Map<string, HostTensor>) => t.delete('model.layers.1.self_attn.q_proj.bias'),
      /model\.safetensors:tensor model\.layers\.1\.self_attn\.q_proj\.bias: missing \(expected shape \[16\]\)/,
    ],
    [
      'an o_proj bias Qwen2 does not have',
      (t: Map<string, HostTensor>) =>
        t.set('model.layers.0.self_attn.o_proj.bias', { shape: [16], data: new Float32Array(16) }),
      /tensor model\.layers\.0\.self_attn\.o_proj\.bias: not part of a Qwen2ForCausalLM of this config\.json \(\d+ tensors expected; its biases are not on this projection\)/,
    ],
  ])('%s', async (_, edit, message) => {
    const read = vi.spyOn(SafetensorsReader.prototype, 'read');
    const before = tf.memory().numTensors;
    await expect(loadHfLlama(await dirWith(edit))).rejects.toThrow(message);
    expect(read).not.toHaveBeenCalled();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a wrong shape in the last shard is found before the first shard is read', async () => {
    const dir = await dirWith(
      (t) => t.set('model.norm.weight', { shape: [15], data: new Float32Array(15) }),
      { shards: 3, dtype: 'BF16' },
    );
    const read = vi.spyOn(SafetensorsReader.prototype, 'read');
    await expect(loadHfLlama(dir)).rejects.toThrow(
      /model-00003-of-00003\.safetensors:tensor model\.norm\.weight: shape \[15\] does not match config\.json: expected \[16\]/,
    );
    expect(read).not.toHaveBeenCalled();
    // the control: a good directory reads every tensor once, through the spied method
    const good = await loadHfLlama(await dirWith(() => {}, { shards: 3 }));
    expect(read).toHaveBeenCalledTimes(tinyHfWeights(QWEN2, 'bad').size);
    good.dispose();
  });
});

describe('sharded directories', () => {
  it('a shard named in the index but missing on disk', async () => {
    const dir = await dirWith(() => {}, { shards: 3 });
    await rm(join(dir, 'model-00002-of-00003.safetensors'));
    await expect(loadHfLlama(dir)).rejects.toThrow(
      /model\.safetensors\.index\.json:weight_map: shard .*model-00002-of-00003\.safetensors is missing \(it holds \d+ tensors, e\.g\. model\.layers\./,
    );
  });

  it('a tensor the index maps to a shard that does not hold it', async () => {
    const dir = await dirWith(() => {}, { shards: 2 });
    const indexPath = join(dir, 'model.safetensors.index.json');
    const index = JSON.parse(await readFile(indexPath, 'utf8'));
    index.weight_map['model.norm.weight'] = 'model-00001-of-00002.safetensors';
    await writeFile(indexPath, JSON.stringify(index));
    await expect(loadHfLlama(dir)).rejects.toThrow(
      /model-00001-of-00002\.safetensors:tensor model\.norm\.weight: missing \(model\.safetensors\.index\.json maps it to this shard\)/,
    );
  });

  it('a tensor the index does not list', async () => {
    const dir = await dirWith(() => {}, { shards: 2 });
    const indexPath = join(dir, 'model.safetensors.index.json');
    const index = JSON.parse(await readFile(indexPath, 'utf8'));
    delete index.weight_map['model.layers.0.self_attn.v_proj.bias'];
    await writeFile(indexPath, JSON.stringify(index));
    await expect(loadHfLlama(dir)).rejects.toThrow(
      /model\.safetensors\.index\.json:tensor model\.layers\.0\.self_attn\.v_proj\.bias: missing \(expected shape \[8\]\)/,
    );
  });
});
