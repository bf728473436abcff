// Llama / Qwen2 / Mistral directories made here at tiny shapes (seeded weights under HF names), loaded by
// loadHfLlama and compared with the independent HF-layout reference forward of tests/helpers/hf-reference.ts:
// head_dim ≠ hidden / heads, llama3 and linear RoPE scaling, q/k/v (and o, MLP) biases, tied and untied heads,
// F16 / BF16 / sharded files; the tensor decoder and the host decoder both; a save → load round trip per family.
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { attachExperts, decodeRoute, detachExperts, withRoute } from '../../../src/experts/index.js';
import { HostDecoder, TensorDecoder } from '../../../src/generate/decoder.js';
import { loadHfLlama, saveHfLlama } from '../../../src/io/hf-llama-node.js';
import { readSafetensors } from '../../../src/io/safetensors-node.js';
import type { Transformer } from '../../../src/model/transformer.js';
import {
  referenceLogits,
  type TinyHfSpec,
  tinyHfWeights,
  writeTinyHfDir,
} from '../../helpers/hf-reference.js';
import { expectClose } from '../../helpers/index.js';

const tmp = () => mkdtemp(join(tmpdir(), 'mote-hf-fam-'));
const IDS = [1, 5, 9, 2, 17, 30, 4, 11, 8, 3, 25, 6];

/** Llama 3.x-like: head_dim 8 ≠ 24 / 4, llama3 scaling whose 4 frequencies fall in all three bands, all biases. */
const LLAMA3: TinyHfSpec = {
  family: 'llama',
  hidden: 24,
  intermediate: 40,
  layers: 2,
  heads: 4,
  kvHeads: 2,
  headDim: 8,
  vocab: 48,
  positions: 64,
  tied: false,
  ropeTheta: 10000,
  // wavelengths 2π/ω = 6.3, 63, 628, 6283; L/high = 256, L/low = 1024: kept, kept, blended, divided
  ropeScaling: {
    rope_type: 'llama3',
    factor: 8,
    low_freq_factor: 1,
    high_freq_factor: 4,
    original_max_position_embeddings: 1024,
  },
  attentionBias: true,
  mlpBias: true,
  eps: 1e-5,
  extra: { eos_token_id: [2, 7, 9] },
};

/** Qwen2.5-like: q/k/v biases, tied head, GQA 4/2, θ 1e6. */
const QWEN2: TinyHfSpec = {
  family: 'qwen2',
  hidden: 32,
  intermediate: 48,
  layers: 2,
  heads: 4,
  kvHeads: 2,
  vocab: 40,
  positions: 128,
  tied: true,
  ropeTheta: 1e6,
  eps: 1e-6,
};

/** Mistral-like: no sliding window, linear scaling (old `type` key), head_dim 6 ≠ 16 / 2, untied. */
const MISTRAL: TinyHfSpec = {
  family: 'mistral',
  hidden: 16,
  intermediate: 24,
  layers: 2,
  heads: 2,
  kvHeads: 1,
  headDim: 6,
  vocab: 36,
  positions: 32,
  tied: false,
  ropeTheta: 10000,
  ropeScaling: { type: 'linear', factor: 4 },
  eps: 1e-6,
};

const models: Transformer[] = [];
afterAll(() => {
  for (const m of models) m.dispose();
});

async function load(spec: TinyHfSpec, options: Parameters<typeof writeTinyHfDir>[3] = {}) {
  const dir = await tmp();
  const tensors = tinyHfWeights(spec, `w:${spec.family}`);
  await writeTinyHfDir(dir, spec, tensors, options);
  const model = await loadHfLlama(dir);
  models.push(model);
  return { dir, tensors, model };
}

function ourLogits(model: Transformer, ids: number[]): Float32Array {
  const t = model.logits([ids]);
  const out = t.dataSync() as Float32Array;
  t.dispose();
  return out;
}

describe.each([
  ['llama (head_dim 8 ≠ 24/4, llama3 RoPE, q/k/v/o + MLP biases, untied)', LLAMA3],
  ['qwen2 (q/k/v biases, tied)', QWEN2],
  ['mistral (head_dim 6 ≠ 16/2, linear RoPE, no sliding window)', MISTRAL],
])('%s', (_, spec) => {
  it('loads with the reference logits (1e-4), through the forward, the tensor decoder and the host decoder', async () => {
    const { tensors, model } = await load(spec);
    const ref = referenceLogits(spec, tensors, IDS);
    expectClose(ourLogits(model, IDS), ref, 1e-4, 0);
    for (const decoder of [new HostDecoder(model), new TensorDecoder(model)]) {
      const V = spec.vocab;
      for (let t = 0; t < IDS.length; t++) {
        const [logits] = decoder.step([[IDS[t]]]);
        expectClose(logits, ref.subarray(t * V, (t + 1) * V), 1e-4, 0);
      }
      decoder.dispose();
    }
  });

  it('saveHfLlama writes the same tensors and family back; the reload computes the same logits', async () => {
    const { tensors, model } = await load(spec);
    const out = await tmp();
    await saveHfLlama(model, out);
    const config = JSON.parse(await readFile(join(out, 'config.json'), 'utf8'));
    expect(config.model_type).toBe(spec.family === 'mistral' ? 'llama' : spec.family); // Mistral = Llama here
    const { tensors: saved } = await readSafetensors(join(out, 'model.safetensors'));
    expect([...saved.keys()].sort()).toEqual([...tensors.keys()].sort());
    for (const [name, t] of tensors) expect(saved.get(name)?.data, name).toEqual(t.data);
    const back = await loadHfLlama(out);
    models.push(back);
    expect(back.config).toEqual(model.config);
    expectClose(ourLogits(back, IDS), ourLogits(model, IDS), 0, 0);
  });
});

describe('weights files', () => {
  it.each([
    ['F16', { dtype: 'F16' as const }],
    ['BF16', { dtype: 'BF16' as const }],
    ['sharded F32 (3 shards)', { shards: 3 }],
    ['sharded BF16 (2 shards)', { dtype: 'BF16' as const, shards: 2 }],
  ])('%s: the Qwen2 model with q/k/v biases gives the reference logits', async (_, options) => {
    const { tensors, model } = await load(QWEN2, options);
    expectClose(ourLogits(model, IDS), referenceLogits(QWEN2, tensors, IDS), 1e-4, 0);
  });

  it('the config keeps the special ids: Llama 3 eos list, bos', async () => {
    const { model } = await load(LLAMA3);
    expect(model.config.eosTokenIds).toEqual([2, 7, 9]);
    expect(model.config.bosTokenId).toBe(1);
    expect(model.config.headDim).toBe(8);
    expect(model.config.biases).toEqual(['q', 'k', 'v', 'o', 'gate', 'up', 'down']);
  });

  it('with MoTE experts (random B) on the biased projections, the host decoder equals the tensor decoder', async () => {
    const { model } = await load(QWEN2);
    const base = new TensorDecoder(model);
    const baseLogits = IDS.slice(0, 6).map((id) => base.step([[id]])[0]);
    base.dispose();
    attachExperts(model, { rank: 2, initLoraWeights: false });
    const ctx = withRoute(decodeRoute(['analysis', 'guidance', 'answer'], 'guidance'));
    const host = new HostDecoder(model, ctx);
    const tensor = new TensorDecoder(model, 1, ctx);
    for (const [t, id] of IDS.slice(0, 6).entries()) {
      const [h] = host.step([[id]]);
      expectClose(h, tensor.step([[id]])[0], 1e-4, 1e-4);
      // the experts are really in the path: the logits differ from the base model's
      expect(Math.max(...h.map((v, i) => Math.abs(v - baseLogits[t][i])))).toBeGreaterThan(1e-3);
    }
    host.dispose();
    tensor.dispose();
    detachExperts(model);
  });

  it('loading leaves no tensor behind but the model', async () => {
    const before = tf.memory().numTensors;
    const { model } = await load(QWEN2, { dtype: 'BF16', shards: 2 });
    const own = model.namedVariables().size + 2; // + the RoPE tables
    expect(tf.memory().numTensors - before).toBe(own);
  });
});
