// PEFT adapter export/import: the files against PEFT's contract (adapter_config.json fields, state-dict keys,
// [r, in] / [out, r] shapes, dtypes, trainable-token rows), the α folding checked by recomputing PEFT's merged
// weights (W0 + Σ lora_alpha/r · lora_B·lora_A) from the files against our merged model in HF layout, bit-exact
// F32 round trips (MoTE, single LoRA, plain PEFT directory, untied head), and refusals that change nothing.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { attachExperts, getExperts } from '../../../src/experts/attach.js';
import type { ExpertConfig } from '../../../src/experts/config.js';
import { mergeAll } from '../../../src/experts/merge.js';
import { decodeRoute, withRoute } from '../../../src/experts/routing.js';
import { saveHfLlama } from '../../../src/io/hf-llama-node.js';
import { loadLlama2c } from '../../../src/io/llama2c-node.js';
import { EMBED_ROWS_KEY, HEAD_ROWS_KEY } from '../../../src/io/peft-config.js';
import { importPeftAdapters } from '../../../src/io/peft-import-node.js';
import { exportPeftAdapters } from '../../../src/io/peft-node.js';
import { readSafetensors } from '../../../src/io/safetensors-node.js';
import { Transformer } from '../../../src/model/transformer.js';
import { addStepTokens } from '../../../src/tokenizer/index.js';
import { loadLlama2cTokenizer } from '../../../src/tokenizer/llama2c-tokenizer-node.js';
import { loadTokenizer } from '../../../src/tokenizer/load-tokenizer-node.js';
import type { Tokenizer } from '../../../src/tokenizer/tokenizer.js';
import { expectClose, STORIES_BIN, TOK512_BIN } from '../../helpers/index.js';

const tmp = () => mkdtemp(join(tmpdir(), 'mote-peft-'));
const readJson = async (path: string) => JSON.parse(await readFile(path, 'utf8'));
const MODULES = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];
const MOTE: Partial<ExpertConfig> = {
  kind: 'mote',
  rank: 4,
  loraAlpha: 8,
  alpha: 0.3,
  initLoraWeights: false,
  seed: 'peft',
};

/** stories260K + tok512 with the step tokens (trained-looking random rows) and experts with non-zero B. */
async function trained(experts: Partial<ExpertConfig>) {
  const model = await loadLlama2c(STORIES_BIN);
  const tokenizer = await loadLlama2cTokenizer(TOK512_BIN);
  addStepTokens(tokenizer);
  model.addTokens(6);
  model.addedEmbedding!.assign(tf.randomNormal([6, 64], 0, 0.3, 'float32', 7));
  attachExperts(model, experts);
  return { model, tokenizer };
}

/** A fresh base with no step tokens and no experts. */
async function fresh() {
  return { model: await loadLlama2c(STORIES_BIN), tokenizer: await loadLlama2cTokenizer(TOK512_BIN) };
}

/** Every adapter variable and added row, by name, as host arrays. */
function adapterState(model: Transformer): Map<string, Float32Array> {
  const base = new Set(['embedding', 'finalNorm.weight']);
  return new Map(
    [...model.namedVariables()]
      .filter(([k]) => !base.has(k) && !k.endsWith('.weight') && !k.endsWith('Norm.weight'))
      .map(([k, v]) => [k, v.dataSync() as Float32Array]),
  );
}

function logitsOn(model: Transformer, step: 'analysis' | 'shared'): Float32Array {
  const experts = getExperts(model)!.config;
  const ids = [[1, 512, 300, 265, 513, 516, 281, 517]];
  const ctx =
    experts.kind === 'mote'
      ? withRoute(decodeRoute(experts.stepExperts, step, { merged: false }))
      : undefined;
  const t = model.logits(ids, { ctx });
  const out = t.dataSync() as Float32Array;
  t.dispose();
  return out;
}

describe('MoTE → PEFT adapters', () => {
  it('writes one PEFT LoRA adapter per expert with the documented keys, shapes, dtypes and config', async () => {
    const { model, tokenizer } = await trained(MOTE);
    const dir = await tmp();
    const summary = await exportPeftAdapters(model, tokenizer, dir, {
      baseModelNameOrPath: 'karpathy/stories260K',
      tokenizerPath: TOK512_BIN,
    });
    expect(summary).toMatchObject({ kind: 'mote', tokenRows: 6, tokenizerJson: true });
    expect(summary.adapters.map((a) => a.dir)).toEqual(['analysis', 'guidance', 'answer', 'shared']);
    for (const name of ['analysis', 'guidance', 'answer', 'shared']) {
      const config = await readJson(join(dir, name, 'adapter_config.json'));
      const shared = name === 'shared';
      expect(config).toMatchObject({
        peft_type: 'LORA',
        task_type: 'CAUSAL_LM',
        base_model_name_or_path: 'karpathy/stories260K',
        r: 4,
        lora_alpha: shared ? 0.7 * 8 : 0.3 * 8,
        lora_dropout: 0,
        use_rslora: false,
        fan_in_fan_out: false,
        bias: 'none',
        use_dora: false,
        modules_to_save: null,
        rank_pattern: {},
        alpha_pattern: {},
      });
      expect([...config.target_modules].sort()).toEqual([...MODULES].sort());
      expect(config.trainable_token_indices).toEqual(shared ? [512, 513, 514, 515, 516, 517] : undefined);
      const { tensors, metadata } = await readSafetensors(join(dir, name, 'adapter_model.safetensors'));
      expect(metadata).toEqual({ format: 'pt' });
      expect(tensors.size).toBe(5 * 7 * 2 + (shared ? 1 : 0));
      const shape = (key: string) => tensors.get(`base_model.model.model.layers.${key}.weight`)?.shape;
      expect(shape('0.self_attn.q_proj.lora_A')).toEqual([4, 64]);
      expect(shape('0.self_attn.q_proj.lora_B')).toEqual([64, 4]);
      expect(shape('4.self_attn.k_proj.lora_B')).toEqual([32, 4]);
      expect(shape('2.mlp.gate_proj.lora_B')).toEqual([172, 4]);
      expect(shape('3.mlp.down_proj.lora_A')).toEqual([4, 172]);
      expect(shape('3.mlp.down_proj.lora_B')).toEqual([64, 4]);
      for (const t of tensors.values()) expect(t.dtype).toBe('F32');
      if (shared) expect(tensors.get(EMBED_ROWS_KEY)?.shape).toEqual([6, 64]);
      expect(tensors.has(HEAD_ROWS_KEY)).toBe(false); // tied head: PEFT ties the rows itself
    }
    const mote = await readJson(join(dir, 'mote_config.json'));
    expect(mote).toMatchObject({
      format: 'mote-peft-adapters',
      base: { name_or_path: 'karpathy/stories260K', hidden_size: 64, num_hidden_layers: 5, vocab_size: 512 },
      experts: {
        kind: 'mote',
        rank: 4,
        loraAlpha: 8,
        alpha: 0.3,
        stepExperts: ['analysis', 'guidance', 'answer'],
      },
    });
    expect(mote.adapters[0]).toMatchObject({
      name: 'analysis',
      role: 'step',
      weight: 0.3,
      stepTokens: { start: '<|analysis|>', end: '<|/analysis|>', startId: 512, endId: 513 },
    });
    expect(mote.adapters[2].stepTokens).toMatchObject({ start: '<|response|>', startId: 516 });
    expect(mote.addedTokens[0]).toEqual({ content: '<|analysis|>', id: 512 });
    expect(mote.folding).toMatch(/lora_alpha/);
    expect(await readJson(join(dir, 'added_tokens.json'))).toMatchObject({
      '<|analysis|>': 512,
      '<|/response|>': 517,
    });
    const tok = await loadTokenizer(dir);
    expect(tok.vocabSize).toBe(518);
    expect(tok.encode('<|guidance|>Be kind.<|/guidance|>')).toEqual(
      tokenizer.encode('<|guidance|>Be kind.<|/guidance|>'),
    );
    model.dispose();
  });

  it('PEFT semantics: base + Σ (lora_alpha / r)·lora_B·lora_A of the step and shared adapters = MoTE merged (HF layout)', async () => {
    const { model, tokenizer } = await trained(MOTE);
    const dir = await tmp();
    await exportPeftAdapters(model, tokenizer, dir);
    const base = await loadLlama2c(STORIES_BIN);
    base.addTokens(6);
    await saveHfLlama(base, join(dir, 'base'));
    base.dispose();
    mergeAll(model, 'guidance');
    await saveHfLlama(model, join(dir, 'merged'));
    model.dispose();
    const W0 = (await readSafetensors(join(dir, 'base', 'model.safetensors'))).tensors;
    const Wm = (await readSafetensors(join(dir, 'merged', 'model.safetensors'))).tensors;
    const adapters = await Promise.all(
      ['guidance', 'shared'].map(async (a) => ({
        scale: (await readJson(join(dir, a, 'adapter_config.json'))).lora_alpha / 4,
        t: (await readSafetensors(join(dir, a, 'adapter_model.safetensors'))).tensors,
      })),
    );
    for (const l of [0, 3])
      for (const m of ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'mlp.down_proj']) {
        const name = `model.layers.${l}.${m}`;
        const w = tf.tidy(() => {
          let acc: tf.Tensor = tf.tensor(W0.get(`${name}.weight`)!.data, W0.get(`${name}.weight`)!.shape);
          for (const { scale, t } of adapters) {
            const A = t.get(`base_model.model.${name}.lora_A.weight`)!;
            const B = t.get(`base_model.model.${name}.lora_B.weight`)!;
            const BA = tf.matMul(
              tf.tensor2d(B.data, B.shape as [number, number]),
              tf.tensor2d(A.data, A.shape as [number, number]),
            );
            acc = tf.add(acc, tf.mul(BA, scale));
          }
          return acc.dataSync();
        });
        expectClose(w, Wm.get(`${name}.weight`)!.data, 1e-5, 1e-5);
      }
  });

  it('round-trips bit-exactly into a fresh base (experts attached, step tokens added by the import)', async () => {
    const { model, tokenizer } = await trained(MOTE);
    const dir = await tmp();
    await exportPeftAdapters(model, tokenizer, dir);
    const back = await fresh();
    const result = await importPeftAdapters(back.model, back.tokenizer, dir);
    expect(result).toEqual({
      kind: 'mote',
      adapters: ['analysis', 'guidance', 'answer', 'shared'],
      tokenRows: 6,
      tokensAdded: 6,
      attached: true,
    });
    expect(back.tokenizer.vocabSize).toBe(518);
    expect(back.tokenizer.pieceToId('<|/guidance|>')).toBe(515);
    expect(getExperts(back.model)!.config).toEqual(getExperts(model)!.config);
    const want = adapterState(model);
    const got = adapterState(back.model);
    expect([...got.keys()]).toEqual([...want.keys()]);
    for (const [k, v] of want) expect(got.get(k), k).toEqual(v);
    expect(logitsOn(back.model, 'analysis')).toEqual(logitsOn(model, 'analysis'));
    // into a model that already has the tokens and the same experts: same result, nothing added
    const again = await trained({ ...MOTE, initLoraWeights: true });
    expect(await importPeftAdapters(again.model, again.tokenizer, dir)).toMatchObject({
      tokensAdded: 0,
      attached: false,
    });
    for (const [k, v] of adapterState(again.model)) expect(v, k).toEqual(want.get(k));
    for (const m of [model, back.model, again.model]) m.dispose();
  });

  it('F16 export stores F16 and imports close to the F32 values', async () => {
    const { model, tokenizer } = await trained(MOTE);
    const dir = await tmp();
    await exportPeftAdapters(model, tokenizer, dir, { dtype: 'F16' });
    const { tensors } = await readSafetensors(join(dir, 'shared', 'adapter_model.safetensors'));
    expect(tensors.get(EMBED_ROWS_KEY)?.dtype).toBe('F16');
    const back = await fresh();
    await importPeftAdapters(back.model, back.tokenizer, dir);
    const got = adapterState(back.model);
    for (const [k, v] of adapterState(model)) expectClose(got.get(k)!, v, 1e-3, 1e-3);
    model.dispose();
    back.model.dispose();
  });
});

describe('single LoRA → one PEFT adapter', () => {
  it('writes the adapter in the directory itself and round-trips, also as a plain PEFT directory', async () => {
    const { model, tokenizer } = await trained({
      kind: 'lora',
      rank: 4,
      loraAlpha: 16,
      rsLora: true,
      initLoraWeights: false,
    });
    const dir = await tmp();
    const summary = await exportPeftAdapters(model, tokenizer, dir, { tokenizerPath: TOK512_BIN });
    expect(summary.adapters).toEqual([{ name: 'lora', dir: '.', tensors: 71 }]);
    const config = await readJson(join(dir, 'adapter_config.json'));
    expect(config).toMatchObject({
      r: 4,
      lora_alpha: 16,
      use_rslora: true,
      trainable_token_indices: [512, 513, 514, 515, 516, 517],
    });
    const want = adapterState(model);
    const back = await fresh();
    expect(await importPeftAdapters(back.model, back.tokenizer, dir)).toMatchObject({
      kind: 'lora',
      tokensAdded: 6,
    });
    for (const [k, v] of adapterState(back.model)) expect(v, k).toEqual(want.get(k));
    // without mote_config.json: a plain PEFT adapter, into a model that already has the step tokens
    await rm(join(dir, 'mote_config.json'));
    const plain = await fresh();
    addStepTokens(plain.tokenizer);
    plain.model.addTokens(6);
    expect(await importPeftAdapters(plain.model, plain.tokenizer, dir)).toMatchObject({
      kind: 'lora',
      attached: true,
    });
    expect(getExperts(plain.model)!.config).toMatchObject({
      kind: 'lora',
      rank: 4,
      loraAlpha: 16,
      rsLora: true,
    });
    for (const [k, v] of adapterState(plain.model)) expect(v, k).toEqual(want.get(k));
    expect(logitsOn(plain.model, 'shared')).toEqual(logitsOn(model, 'shared'));
    for (const m of [model, back.model, plain.model]) m.dispose();
  });
});

/** A minimal tokenizer for models without a real vocabulary (ids are pieces `<id>`). */
function stubTokenizer(size: number): Tokenizer {
  const special = new Map<string, number>();
  let vocabSize = size;
  return {
    get vocabSize() {
      return vocabSize;
    },
    baseVocabSize: size,
    bosId: 1,
    eosId: 2,
    encode: () => [],
    decode: () => '',
    streamDecoder: () => ({ push: () => '', flush: () => '' }),
    idToPiece: (id) => `<${id}>`,
    pieceToId: (p) => special.get(p),
    addSpecialTokens: (tokens) =>
      tokens.map((t) => {
        if (!special.has(t)) special.set(t, vocabSize++);
        return special.get(t)!;
      }),
    specialTokens: special,
  };
}

function tiny(dim: number, layers: number) {
  const model = Transformer.init(
    {
      dim,
      hiddenDim: 40,
      numLayers: layers,
      numHeads: 4,
      numKvHeads: 2,
      vocabSize: 64,
      maxSeqLen: 32,
      tiedEmbeddings: false,
    },
    `tiny-${dim}`,
    { trainable: false },
  );
  const tokenizer = stubTokenizer(64);
  return { model, tokenizer };
}

describe('untied heads and other bases', () => {
  it('exports the lm_head rows too (trainable_token_indices for embed_tokens and lm_head) and round-trips', async () => {
    const { model, tokenizer } = tiny(16, 2);
    addStepTokens(tokenizer);
    model.addTokens(6);
    model.addedHead!.assign(tf.randomNormal([16, 6], 0, 1, 'float32', 3));
    attachExperts(model, { ...MOTE, shared: false, alpha: 1 });
    const dir = await tmp();
    const summary = await exportPeftAdapters(model, tokenizer, dir);
    expect(summary.tokenizerJson).toBe(false);
    expect(summary.adapters.map((a) => a.name)).toEqual(['analysis', 'guidance', 'answer']);
    const config = await readJson(join(dir, 'answer', 'adapter_config.json'));
    const ids = [64, 65, 66, 67, 68, 69];
    expect(config.trainable_token_indices).toEqual({ embed_tokens: ids, lm_head: ids });
    const { tensors } = await readSafetensors(join(dir, 'answer', 'adapter_model.safetensors'));
    expect(tensors.get(HEAD_ROWS_KEY)?.shape).toEqual([6, 16]);
    const back = tiny(16, 2);
    await importPeftAdapters(back.model, back.tokenizer, dir);
    const want = adapterState(model);
    for (const [k, v] of adapterState(back.model)) expect(v, k).toEqual(want.get(k));
    model.dispose();
    back.model.dispose();
  });

  it('adapts only the targeted projections (any order) and round-trips', async () => {
    const { model, tokenizer } = tiny(16, 2);
    attachExperts(model, { ...MOTE, targets: ['v', 'q'] });
    const dir = await tmp();
    const summary = await exportPeftAdapters(model, tokenizer, dir);
    expect(summary).toMatchObject({ tokenRows: 0 });
    expect(summary.adapters.map((a) => a.tensors)).toEqual([8, 8, 8, 8]); // 2 layers × q, v × A, B
    const config = await readJson(join(dir, 'shared', 'adapter_config.json'));
    expect(config.target_modules).toEqual(['v_proj', 'q_proj']);
    expect(config.trainable_token_indices).toBeUndefined();
    const back = tiny(16, 2);
    attachExperts(back.model, { ...MOTE, targets: ['q', 'v'] });
    await importPeftAdapters(back.model, back.tokenizer, dir);
    const want = adapterState(model);
    for (const [k, v] of adapterState(back.model)) expect(v, k).toEqual(want.get(k));
    model.dispose();
    back.model.dispose();
  });

  it.each([
    [
      'another width',
      24,
      2,
      /analysis\/adapter_model\.safetensors:base_model\.model\.model\.layers\.0\.self_attn\.q_proj\.lora_A\.weight: has shape \[4,16\]; this model expects \[4,24\] \(the adapters were made for another base: hidden_size 16, this model 24\)/,
    ],
    [
      'fewer layers',
      16,
      1,
      /base_model\.model\.model\.layers\.1\.[\w.]+\.lora_[AB]\.weight: layer 1 does not exist in this model \(1 layers\) \(the adapters were made for another base: num_hidden_layers 2, this model 1\)/,
    ],
    [
      'more layers',
      16,
      3,
      /layers\.2\.self_attn\.q_proj\.lora_A\.weight: missing \(expected shape \[4,16\]\)/,
    ],
  ])(
    'adapters for another base shape (%s) are refused, naming the key and shapes; nothing changes',
    async (_, dim, layers, message) => {
      const { model, tokenizer } = tiny(16, 2);
      addStepTokens(tokenizer);
      model.addTokens(6);
      attachExperts(model, MOTE);
      const dir = await tmp();
      await exportPeftAdapters(model, tokenizer, dir);
      model.dispose();
      const other = tiny(dim, layers);
      await expect(importPeftAdapters(other.model, other.tokenizer, dir)).rejects.toThrow(message);
      expect(getExperts(other.model)).toBeNull();
      expect(other.tokenizer.vocabSize).toBe(64);
      expect(other.model.config.vocabSize).toBe(64);
      other.model.dispose();
    },
  );
});

describe('PEFT import refusals', () => {
  async function exported() {
    const { model, tokenizer } = tiny(16, 2);
    addStepTokens(tokenizer);
    model.addTokens(6);
    attachExperts(model, MOTE);
    const dir = await tmp();
    await exportPeftAdapters(model, tokenizer, dir);
    model.dispose();
    return dir;
  }
  const patchJson = async (path: string, patch: Record<string, unknown>) =>
    writeFile(path, JSON.stringify({ ...(await readJson(path)), ...patch }));

  it('experts attached with another config', async () => {
    const dir = await exported();
    const other = tiny(16, 2);
    attachExperts(other.model, { ...MOTE, rank: 8 });
    await expect(importPeftAdapters(other.model, other.tokenizer, dir)).rejects.toThrow(
      /mote_config\.json: experts\.rank is 4 but the model's attached experts have 8/,
    );
    other.model.dispose();
  });

  it.each([
    [
      'lora_alpha',
      { lora_alpha: 16 },
      /guidance\/adapter_config\.json:lora_alpha: 16 differs from mote_config\.json \("2\.4 = weight 0\.3 × loraAlpha 8"\)/,
    ],
    [
      'use_dora',
      { use_dora: true },
      /guidance\/adapter_config\.json:use_dora: true is not supported; expected false/,
    ],
    [
      'target_modules',
      { target_modules: ['q_proj', 'v_proj'] },
      /guidance\/adapter_config\.json:target_modules: \["q_proj","v_proj"\] differs from mote_config\.json \(\["q_proj","k_proj"/,
    ],
    ['peft_type', { peft_type: 'IA3' }, /peft_type: "IA3" is not supported; expected "LORA"/],
  ])('a tampered adapter_config.json (%s)', async (_, patch, message) => {
    const dir = await exported();
    await patchJson(join(dir, 'guidance', 'adapter_config.json'), patch);
    const other = tiny(16, 2);
    await expect(importPeftAdapters(other.model, other.tokenizer, dir)).rejects.toThrow(message);
    expect(getExperts(other.model)).toBeNull();
    other.model.dispose();
  });

  it('a missing adapter directory, and a tokenizer that cannot take the step tokens at their ids', async () => {
    const dir = await exported();
    const other = tiny(16, 2);
    other.tokenizer.addSpecialTokens(['<|other|>']); // id 64: the step tokens cannot get 64…69
    other.model.addTokens(1);
    await expect(importPeftAdapters(other.model, other.tokenizer, dir)).rejects.toThrow(
      /token "<\|analysis\|>" needs id 64, but the tokenizer has 65 ids/,
    );
    await rm(join(dir, 'answer'), { recursive: true });
    await expect(importPeftAdapters(other.model, other.tokenizer, dir)).rejects.toThrow(
      /answer\/adapter_config\.json: cannot read \(no such file\): adapter answer is missing/,
    );
    other.model.dispose();
  });

  it('a plain PEFT adapter with token rows the tokenizer does not have', async () => {
    const { model, tokenizer } = tiny(16, 2);
    addStepTokens(tokenizer);
    model.addTokens(6);
    attachExperts(model, { kind: 'lora', rank: 4 });
    const dir = await tmp();
    await exportPeftAdapters(model, tokenizer, dir);
    model.dispose();
    await rm(join(dir, 'mote_config.json'));
    const other = tiny(16, 2);
    await expect(importPeftAdapters(other.model, other.tokenizer, dir)).rejects.toThrow(
      /trained row for token id 64, but the tokenizer has 64 ids \(a plain PEFT adapter does not name its tokens/,
    );
    other.model.dispose();
  });

  it('moe-topk experts have no PEFT form', async () => {
    const { model, tokenizer } = tiny(16, 2);
    attachExperts(model, { kind: 'moe-topk', rank: 4 });
    await expect(exportPeftAdapters(model, tokenizer, await tmp())).rejects.toThrow(
      /moe-topk experts have no PEFT LoRA equivalent/,
    );
    model.dispose();
  });
});
