// HF Llama directories: stories260K converted inside the test (by saveHfLlama, and independently by hand following
// models/README.md), loaded back with loadHfLlama / loadModel, logits compared with the llama2.c import; shards,
// F16/BF16, untied heads with added rows; bad directories refused with errors naming the file and field.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadHfLlama, saveHfLlama } from '../../../src/io/hf-llama-node.js';
import { saveTokenizerFiles } from '../../../src/io/hf-tokenizer-files-node.js';
import { loadLlama2c } from '../../../src/io/llama2c-node.js';
import { loadModel } from '../../../src/io/load-node.js';
import {
  bf16ToF32,
  encodeSafetensors,
  f16ToF32,
  f32ToBf16,
  f32ToF16,
  type HostTensor,
} from '../../../src/io/safetensors.js';
import { readSafetensors } from '../../../src/io/safetensors-node.js';
import { Transformer } from '../../../src/model/transformer.js';
import { addStepTokens } from '../../../src/tokenizer/index.js';
import { loadLlama2cTokenizer } from '../../../src/tokenizer/llama2c-tokenizer-node.js';
import { expectClose, STORIES_BIN, TOK512_BIN } from '../../helpers/index.js';

const IDS = [
  [1, 403, 407, 261, 378, 300, 265, 266, 362, 281, 406, 296, 286, 269, 270, 284, 291, 17, 13, 385],
];

const tmp = () => mkdtemp(join(tmpdir(), 'mote-hf-'));

/** Logits of `model` on IDS, as a host array; the model is disposed. */
function logitsOf(model: Transformer): Float32Array {
  const t = model.logits(IDS);
  const out = t.dataSync() as Float32Array;
  t.dispose();
  model.dispose();
  return out;
}

/**
 * stories260K → HF tensors by hand, following models/README.md: the v0 file layout (all matrices (out, in)),
 * w1→gate_proj, w3→up_proj, w2→down_proj, q/k rows permuted as export.py's permute_original:
 * w.view(n_heads, dim1 // n_heads // 2, 2, dim2).transpose(1, 2).reshape(dim1, dim2).
 */
async function handConvert(): Promise<Map<string, HostTensor>> {
  const buf = await readFile(STORIES_BIN);
  const [dim, hidden, L, nh, nkv, vocab] = Array.from(
    new Int32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + 28)),
  );
  const f = new Float32Array(buf.buffer.slice(buf.byteOffset + 28, buf.byteOffset + buf.byteLength));
  const kv = (dim / nh) * nkv;
  let off = 0;
  const take = (n: number) => f.slice(off, (off += n));
  const perLayer = (n: number) => Array.from({ length: L }, () => take(n));
  const permute = (w: Float32Array, heads: number, d1: number, d2: number) =>
    tf.tidy(() =>
      tf
        .reshape(tf.transpose(tf.reshape(tf.tensor(w), [heads, d1 / heads / 2, 2, d2]), [0, 2, 1, 3]), [
          d1,
          d2,
        ])
        .dataSync(),
    ) as Float32Array;
  const emb = take(vocab * dim);
  const rmsAtt = perLayer(dim);
  const wq = perLayer(dim * dim);
  const wk = perLayer(kv * dim);
  const wv = perLayer(kv * dim);
  const wo = perLayer(dim * dim);
  const rmsFfn = perLayer(dim);
  const w1 = perLayer(hidden * dim);
  const w2 = perLayer(dim * hidden);
  const w3 = perLayer(hidden * dim);
  const rmsFinal = take(dim);
  const out = new Map<string, HostTensor>();
  out.set('model.embed_tokens.weight', { shape: [vocab, dim], data: emb });
  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}`;
    out.set(`${p}.input_layernorm.weight`, { shape: [dim], data: rmsAtt[l] });
    out.set(`${p}.self_attn.q_proj.weight`, { shape: [dim, dim], data: permute(wq[l], nh, dim, dim) });
    out.set(`${p}.self_attn.k_proj.weight`, { shape: [kv, dim], data: permute(wk[l], nkv, kv, dim) });
    out.set(`${p}.self_attn.v_proj.weight`, { shape: [kv, dim], data: wv[l] });
    out.set(`${p}.self_attn.o_proj.weight`, { shape: [dim, dim], data: wo[l] });
    out.set(`${p}.post_attention_layernorm.weight`, { shape: [dim], data: rmsFfn[l] });
    out.set(`${p}.mlp.gate_proj.weight`, { shape: [hidden, dim], data: w1[l] });
    out.set(`${p}.mlp.down_proj.weight`, { shape: [dim, hidden], data: w2[l] });
    out.set(`${p}.mlp.up_proj.weight`, { shape: [hidden, dim], data: w3[l] });
  }
  out.set('model.norm.weight', { shape: [dim], data: rmsFinal });
  return out;
}

/** The README's LlamaConfig for stories260K, written by hand. */
const HAND_CONFIG = {
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  hidden_size: 64,
  intermediate_size: 172,
  num_hidden_layers: 5,
  num_attention_heads: 8,
  num_key_value_heads: 4,
  vocab_size: 512,
  max_position_embeddings: 512,
  rms_norm_eps: 1e-5,
  rope_theta: 10000,
  hidden_act: 'silu',
  tie_word_embeddings: true,
  bos_token_id: 1,
  eos_token_id: 2,
};

async function writeConfig(dir: string, patch: Record<string, unknown> = {}): Promise<void> {
  await writeFile(join(dir, 'config.json'), JSON.stringify({ ...HAND_CONFIG, ...patch }));
}

describe('HF Llama import of stories260K', () => {
  let reference: Float32Array;
  let saved: string;
  beforeAll(async () => {
    reference = logitsOf(await loadLlama2c(STORIES_BIN));
    saved = await tmp();
    const model = await loadLlama2c(STORIES_BIN);
    await saveHfLlama(model, saved);
    await saveTokenizerFiles(await loadLlama2cTokenizer(TOK512_BIN), saved, { llama2cPath: TOK512_BIN });
    model.dispose();
  });

  it('a hand conversion (README recipe) loads with the llama2.c logits to 1e-5', async () => {
    const dir = await tmp();
    await writeFile(join(dir, 'model.safetensors'), encodeSafetensors(await handConvert()));
    await writeConfig(dir);
    expectClose(logitsOf(await loadHfLlama(dir)), reference, 1e-5, 0);
  });

  it('saveHfLlama writes the same tensors as the hand conversion, and config.json', async () => {
    const hand = await handConvert();
    const { tensors, metadata } = await readSafetensors(join(saved, 'model.safetensors'));
    expect(metadata).toEqual({ format: 'pt' });
    expect([...tensors.keys()].sort()).toEqual([...hand.keys()].sort());
    for (const [name, t] of hand) {
      expect(tensors.get(name)?.shape, name).toEqual(t.shape);
      expect(tensors.get(name)?.data, name).toEqual(t.data);
    }
    const config = JSON.parse(await readFile(join(saved, 'config.json'), 'utf8'));
    expect(config).toMatchObject({
      ...HAND_CONFIG,
      rope_scaling: null,
      attention_bias: false,
      torch_dtype: 'float32',
    });
  });

  it('loadModel(dir) reads model and tokenizer.json; logits and ids match the llama2.c files', async () => {
    const { model, tokenizer } = await loadModel(saved);
    const tok512 = await loadLlama2cTokenizer(TOK512_BIN);
    for (const text of ['Once upon a time, there was a little girl named Lily.', 'Tom said: "Hi!"\n\n  ok'])
      expect(tokenizer.encode(text)).toEqual(tok512.encode(text));
    expect(tokenizer.decode(IDS[0])).toBe(tok512.decode(IDS[0]));
    expectClose(logitsOf(model), reference, 1e-5, 0);
  });

  it('reads sharded checkpoints (model.safetensors.index.json) exactly', async () => {
    const dir = await tmp();
    const model = await loadLlama2c(STORIES_BIN);
    await saveHfLlama(model, dir, { maxShardBytes: 200_000 });
    model.dispose();
    const index = JSON.parse(await readFile(join(dir, 'model.safetensors.index.json'), 'utf8'));
    const shards = new Set(Object.values(index.weight_map));
    expect(shards.size).toBeGreaterThan(2);
    expect(shards.has('model-00001-of-00006.safetensors')).toBe(true);
    expect(index.metadata.total_size).toBe(260_032 * 4);
    expectClose(logitsOf(await loadHfLlama(dir)), reference, 0, 0);
  });

  it.each([
    ['F16', f32ToF16, f16ToF32, 0.05],
    ['BF16', f32ToBf16, bf16ToF32, 0.3],
  ] as const)(
    'reads %s weights: logits equal those of the rounded weights',
    async (dtype, down, up, loose) => {
      const dir = await tmp();
      const model = await loadLlama2c(STORIES_BIN);
      await saveHfLlama(model, dir, { dtype });
      for (const v of model.namedVariables().values())
        v.assign(
          tf.tensor(
            Float32Array.from(v.dataSync(), (x) => up(down(x))),
            v.shape,
          ),
        );
      const rounded = logitsOf(model);
      const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
      expect(config.torch_dtype).toBe(dtype === 'F16' ? 'float16' : 'bfloat16');
      const { tensors } = await readSafetensors(join(dir, 'model.safetensors'));
      expect(tensors.get('model.norm.weight')?.dtype).toBe(dtype);
      const loaded = logitsOf(await loadHfLlama(dir));
      expectClose(loaded, rounded, 1e-5, 0);
      expectClose(loaded, reference, loose, 0); // and near the F32 model
    },
  );
});

describe('HF Llama round trip of other shapes', () => {
  it('an untied head with added token rows saves and loads exactly', async () => {
    const model = Transformer.init(
      {
        dim: 16,
        hiddenDim: 40,
        numLayers: 2,
        numHeads: 4,
        numKvHeads: 2,
        vocabSize: 64,
        maxSeqLen: 32,
        tiedEmbeddings: false,
      },
      'hf-untied',
    );
    model.addTokens(3);
    model.addedEmbedding!.assign(tf.randomNormal([3, 16], 0, 1, 'float32', 1));
    model.addedHead!.assign(tf.randomNormal([16, 3], 0, 1, 'float32', 2));
    const ids = [[1, 64, 5, 66, 65, 9]];
    const a = model.logits(ids);
    const dir = await tmp();
    await saveHfLlama(model, dir);
    const back = await loadHfLlama(dir);
    // a model without special ids of its own is written with Llama's bos 1 / eos 2
    expect(back.config).toEqual({ ...model.config, bosTokenId: 1, eosTokenIds: [2] });
    const b = back.logits(ids);
    expectClose(b, a, 0, 0);
    for (const t of [a, b, model, back]) t.dispose();
  });
});

describe('HF Llama bad input', () => {
  let good: string;
  beforeAll(async () => {
    good = await tmp();
    const model = await loadLlama2c(STORIES_BIN);
    await saveHfLlama(model, good);
    model.dispose();
  });
  /** A copy of the good directory with config.json patched. */
  const patched = async (patch: Record<string, unknown>) => {
    const dir = await tmp();
    const config = JSON.parse(await readFile(join(good, 'config.json'), 'utf8'));
    await writeFile(join(dir, 'config.json'), JSON.stringify({ ...config, ...patch }));
    await writeFile(join(dir, 'model.safetensors'), await readFile(join(good, 'model.safetensors')));
    return dir;
  };

  it('a missing shard names the shard and a tensor it holds', async () => {
    const dir = await tmp();
    const model = await loadLlama2c(STORIES_BIN);
    await saveHfLlama(model, dir, { maxShardBytes: 200_000 });
    model.dispose();
    await rm(join(dir, 'model-00002-of-00006.safetensors'));
    await expect(loadHfLlama(dir)).rejects.toThrow(
      /model\.safetensors\.index\.json:weight_map: shard .*model-00002-of-00006\.safetensors is missing \(it holds \d+ tensors, e\.g\. model\.layers\./,
    );
  });

  it.each([
    [
      { architectures: ['MistralForCausalLM'] },
      /config\.json:architectures: \["MistralForCausalLM"\] is not supported; expected \["LlamaForCausalLM"\] for model_type "llama"/,
    ],
    [
      { model_type: 'gemma', architectures: undefined },
      /config\.json:model_type: "gemma" is not supported; expected one of "llama" \(LlamaForCausalLM\), "qwen2" \(Qwen2ForCausalLM\), "mistral" \(MistralForCausalLM\)/,
    ],
    [
      { rope_scaling: { rope_type: 'yarn', factor: 2 } },
      /config\.json:rope_scaling\.rope_type: "yarn" is not supported; expected "linear" or "llama3"/,
    ],
    // biases the config announces but the checkpoint lacks: named by the first missing tensor
    [
      { attention_bias: true },
      /model\.safetensors:tensor model\.layers\.0\.self_attn\.q_proj\.bias: missing \(expected shape \[64\]\)/,
    ],
    [
      { mlp_bias: true },
      /model\.safetensors:tensor model\.layers\.0\.mlp\.gate_proj\.bias: missing \(expected shape \[172\]\)/,
    ],
    [{ hidden_act: 'gelu' }, /config\.json:hidden_act: "gelu" is not supported; expected "silu"/],
    [
      { quantization_config: { quant_method: 'gptq' } },
      /config\.json:quantization_config: .* is not supported/,
    ],
    [
      { num_key_value_heads: 3 },
      /config\.json:num_key_value_heads: 3 is invalid; expected a divisor of numHeads \(8\)/,
    ],
    [
      { intermediate_size: 100 },
      /model\.safetensors:tensor model\.layers\.0\.mlp\.gate_proj\.weight: shape \[172,64\] does not match config\.json: expected \[100,64\]/,
    ],
  ])('config.json %j is refused, naming the field', async (patch, message) => {
    await expect(loadHfLlama(await patched(patch))).rejects.toThrow(message);
  });

  it('unsupported dtypes are refused, naming the tensor', async () => {
    const dir = await tmp();
    const tensors = await handConvert();
    const norm = tensors.get('model.norm.weight')!;
    tensors.set('model.norm.weight', { shape: norm.shape, data: Int32Array.from(norm.data) });
    await writeFile(join(dir, 'model.safetensors'), encodeSafetensors(tensors));
    await writeConfig(dir);
    await expect(loadHfLlama(dir)).rejects.toThrow(
      /model\.safetensors:tensor model\.norm\.weight: dtype I32 is not supported; expected F32, F16 or BF16/,
    );
    // a dtype the safetensors reader does not know at all (F16 bytes relabelled I16: same size)
    const bytes = encodeSafetensors(await handConvert(), { dtype: 'F16' });
    bytes[Buffer.from(bytes).indexOf('"F16"') + 1] = 'I'.charCodeAt(0);
    await writeFile(join(dir, 'model.safetensors'), bytes);
    await expect(loadHfLlama(dir)).rejects.toThrow(
      /dtype "I16" \(a safetensors dtype this library does not read\)/,
    );
  });

  it('missing or unexpected tensors and a missing weights file are named', async () => {
    const dir = await tmp();
    await writeConfig(dir);
    await expect(loadHfLlama(dir)).rejects.toThrow(
      /no model\.safetensors or model\.safetensors\.index\.json/,
    );
    const tensors = await handConvert();
    tensors.delete('model.layers.3.self_attn.k_proj.weight');
    await writeFile(join(dir, 'model.safetensors'), encodeSafetensors(tensors));
    await expect(loadHfLlama(dir)).rejects.toThrow(
      /tensor model\.layers\.3\.self_attn\.k_proj\.weight: missing \(expected shape \[32,64\]\)/,
    );
    const extra = await handConvert();
    extra.set('model.layers.0.self_attn.q_proj.bias', { shape: [64], data: new Float32Array(64) });
    await writeFile(join(dir, 'model.safetensors'), encodeSafetensors(extra));
    await expect(loadHfLlama(dir)).rejects.toThrow(
      /tensor model\.layers\.0\.self_attn\.q_proj\.bias: not part of a LlamaForCausalLM of this config\.json \(\d+ tensors expected; its biases are not on this projection\)/,
    );
    await rm(join(dir, 'config.json'));
    await expect(loadHfLlama(dir)).rejects.toThrow(/config\.json: cannot read \(no such file\)/);
  });

  it('a tokenizer with fewer ids than the model has rows loads; the step tokens then fill the rows', async () => {
    const dir = await tmp();
    const model = await loadLlama2c(STORIES_BIN);
    model.addTokens(6); // the model has the step-token rows, the tokenizer does not
    await saveHfLlama(model, dir);
    model.dispose();
    await expect(loadModel(dir)).rejects.toThrow(/no tokenizer files \(looked for tokenizer\.json/);
    await saveTokenizerFiles(await loadLlama2cTokenizer(TOK512_BIN), dir, { llama2cPath: TOK512_BIN });
    const padded = await loadModel(dir);
    expect([padded.tokenizer.vocabSize, padded.model.config.vocabSize]).toEqual([512, 518]);
    padded.model.dispose();
    const tok = await loadLlama2cTokenizer(TOK512_BIN);
    addStepTokens(tok);
    await saveTokenizerFiles(tok, dir, { llama2cPath: TOK512_BIN });
    const { model: ok, tokenizer } = await loadModel(dir);
    expect(tokenizer.encode('<|analysis|>hi', { bos: false })).toEqual(
      tok.encode('<|analysis|>hi', { bos: false }),
    );
    ok.dispose();
  });
});
