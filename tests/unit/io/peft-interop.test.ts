// PEFT interop beyond our own round trip, checked against what PEFT writes (huggingface/peft: LoraConfig,
// get_peft_model_state_dict with save_embedding_layers, TrainableTokensLayer; read, not run here):
// - step tokens over PADDING rows (a Qwen2.5-like base: 265 tokenizer ids, more embedding rows) export at their real
//   ids and import back bit-exactly, tied and untied, with the Python usage resizing only when rows grew;
// - adapter_config.json leaves out exclude_modules (PEFT < 0.14 refuses it), recommends no add_weighted_adapter, and
//   never names a llama2.c .bin as the base;
// - adapter directories as PEFT writes them (hand-built here, PEFT's key names and config forms): dict-form
//   trainable_token_indices with different ids per module, the list form on an untied model, whole embed_tokens /
//   lm_head matrices saved after a resize; each accepted with the rows PEFT's model has, or refused by name;
// - the real adapter_config.json PEFT wrote (../shared/models/hf/peft) is read and understood.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attachExperts, getExperts } from '../../../src/experts/attach.js';
import type { ExpertConfig } from '../../../src/experts/config.js';
import { decodeRoute, withRoute } from '../../../src/experts/routing.js';
import { linearShape } from '../../../src/io/hf-llama-layout.js';
import { loadModel } from '../../../src/io/load-node.js';
import {
  EMBED_MATRIX_KEYS,
  EMBED_ROWS_KEY,
  HEAD_MATRIX_KEYS,
  HEAD_ROWS_KEY,
  loraKey,
  parseAdapterConfig,
} from '../../../src/io/peft-config.js';
import { importPeftAdapters } from '../../../src/io/peft-import-node.js';
import { exportPeftAdapters } from '../../../src/io/peft-node.js';
import { encodeSafetensors, type HostTensor } from '../../../src/io/safetensors.js';
import type { Transformer } from '../../../src/model/transformer.js';
import { loadBase } from '../../../src/run/base.js';
import { ROOT } from '../../helpers/index.js';
import { writeTinyHfModel } from '../../helpers/tiny-hf-model.js';

let root: string;
const dirs: Record<string, string> = {};
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mote-peft-interop-'));
  for (const [name, rows, tied] of [
    ['padded-tied', 272, true],
    ['padded-untied', 272, false],
    ['partly-grown-untied', 268, false],
  ] as const) {
    dirs[name] = join(root, name);
    await writeTinyHfModel(dirs[name], { rows, tied, seed: name });
  }
});
afterAll(() => rm(root, { recursive: true, force: true }));

const readJson = async (path: string) => JSON.parse(await readFile(path, 'utf8'));
const MOTE: Partial<ExpertConfig> = {
  kind: 'mote',
  rank: 2,
  loraAlpha: 4,
  alpha: 0.4,
  initLoraWeights: false,
  seed: 3,
};
const STEP_IDS = [265, 266, 267, 268, 269, 270];

/** A base with the step tokens, its added rows given trained-looking values. */
async function trainedBase(name: string) {
  const base = await loadBase({ model: dirs[name] });
  tf.tidy(() => {
    base.model.addedEmbedding!.assign(
      tf.randomNormal(base.model.addedEmbedding!.shape, 0, 0.5, 'float32', 11),
    );
    base.model.addedHead?.assign(tf.randomNormal(base.model.addedHead.shape, 0, 0.5, 'float32', 12));
  });
  return base;
}

function logits(model: Transformer, ids: number[]): Float32Array {
  const experts = getExperts(model)?.config;
  const ctx =
    experts?.kind === 'mote'
      ? withRoute(decodeRoute(experts.stepExperts, 'guidance', { merged: false }))
      : undefined;
  const t = model.logits([ids], { ctx });
  const out = t.dataSync() as Float32Array;
  t.dispose();
  return out;
}

describe('step tokens over padding rows → PEFT and back', () => {
  it.each([
    ['padded-tied', 272, null],
    ['padded-untied', 272, null],
    ['partly-grown-untied', 271, 271],
  ])(
    '%s: real ids in trainable_token_indices, bit-exact import into the plain base',
    async (name, vocab, resize) => {
      const { model, tokenizer } = await trainedBase(name);
      attachExperts(model, MOTE);
      const out = join(root, `export-${name}`);
      const summary = await exportPeftAdapters(model, tokenizer, out, { baseModelNameOrPath: dirs[name] });
      expect(summary.tokenRows).toBe(6);
      const shared = await readJson(join(out, 'shared', 'adapter_config.json'));
      const tied = model.config.tiedEmbeddings;
      expect(shared.trainable_token_indices).toEqual(
        tied ? STEP_IDS : { embed_tokens: STEP_IDS, lm_head: STEP_IDS },
      );
      expect(shared.base_model_name_or_path).toBe(dirs[name]);
      expect('exclude_modules' in shared).toBe(false);
      const mote = await readJson(join(out, 'mote_config.json'));
      expect(mote.base.vocab_size).toBe(name === 'partly-grown-untied' ? 268 : 272);
      expect(mote.addedTokens.map((t: { id: number }) => t.id)).toEqual(STEP_IDS);
      const usage = mote.usage.join('\n');
      if (resize) expect(usage).toContain(`base.resize_token_embeddings(${resize})`);
      else expect(usage).not.toMatch(/resize_token_embeddings\(/);
      expect(usage).toMatch(/merge_and_unload\(\)/);
      expect(usage).not.toMatch(/add_weighted_adapter\(\[/); // named only to say why not

      // into the plain base (no step tokens, no experts): tokens added at their ids, padding rows reused
      const back = await loadModel(dirs[name]);
      const result = await importPeftAdapters(back.model, back.tokenizer, out);
      expect(result).toMatchObject({ tokenRows: 6, tokensAdded: 6, attached: true });
      expect([back.model.config.vocabSize, back.model.addedStart]).toEqual([vocab, 265]);
      expect(back.model.addedEmbedding!.dataSync()).toEqual(model.addedEmbedding!.dataSync());
      if (!tied) expect(back.model.addedHead!.dataSync()).toEqual(model.addedHead!.dataSync());
      const ids = [1, 265, 40, 267, 268, 100, 270, 3];
      expect(logits(back.model, ids)).toEqual(logits(model, ids));
      back.model.dispose();
      model.dispose();
    },
  );

  it('refuses a llama2.c .bin as base_model_name_or_path', async () => {
    const { model, tokenizer } = await trainedBase('padded-tied');
    attachExperts(model, MOTE);
    await expect(
      exportPeftAdapters(model, tokenizer, join(root, 'bin-base'), {
        baseModelNameOrPath: '/x/stories260K.bin',
      }),
    ).rejects.toThrow(
      /stories260K\.bin looks like a llama2\.c checkpoint, which from_pretrained cannot load/,
    );
    model.dispose();
  });
});

// ---------------------------------------------------------------- adapters as PEFT writes them

const R = 2;

/** A plain PEFT LoRA adapter directory (q/v targets, rank 2) with `extra` tensors and config fields. */
async function peftDir(
  name: string,
  model: Transformer,
  config: Record<string, unknown>,
  extra: Record<string, HostTensor>,
): Promise<string> {
  const dir = join(root, name);
  await mkdir(dir, { recursive: true });
  let seed = 1;
  const rand = (shape: number[]) => {
    const n = shape[0] * shape[1];
    return { shape, data: Float32Array.from({ length: n }, () => Math.sin(seed++ * 12.9898) * 0.1) };
  };
  const tensors = new Map<string, HostTensor>();
  for (let l = 0; l < model.config.numLayers; l++)
    for (const m of ['q', 'v'] as const) {
      const [inF, outF] = linearShape(model.config, m);
      tensors.set(loraKey(l, m, 'A'), rand([R, inF]));
      tensors.set(loraKey(l, m, 'B'), rand([outF, R]));
    }
  for (const [k, t] of Object.entries(extra)) tensors.set(k, t);
  await writeFile(
    join(dir, 'adapter_model.safetensors'),
    encodeSafetensors(tensors, { metadata: { format: 'pt' } }),
  );
  await writeFile(
    join(dir, 'adapter_config.json'),
    JSON.stringify({
      peft_type: 'LORA',
      task_type: 'CAUSAL_LM',
      base_model_name_or_path: 'Qwen/Qwen2.5-0.5B-Instruct',
      r: R,
      lora_alpha: 4,
      lora_dropout: 0,
      target_modules: ['q_proj', 'v_proj'],
      exclude_modules: null,
      bias: 'none',
      use_dora: false,
      ...config,
    }),
  );
  return dir;
}

/** `n` rows of width d with values k + i/100 (recognisable). */
const rowsOf = (n: number, d: number, k: number) => ({
  shape: [n, d],
  data: Float32Array.from({ length: n * d }, (_, i) => k + i / 100),
});
const row = (m: Float32Array, i: number, d: number) => Array.from(m.subarray(i * d, (i + 1) * d));
const headRow = (model: Transformer, id: number) =>
  tf.tidy(() => Array.from(tf.gather(model.headTable()!, [id], 1).dataSync()));
const embRow = (model: Transformer, id: number) =>
  tf.tidy(() => Array.from(tf.gather(model.embeddingTable(), [id]).dataSync()));

/** The untouched state of a refused import. */
function unchanged(model: Transformer, vocab: number) {
  expect(getExperts(model)).toBeNull();
  expect(model.config.vocabSize).toBe(vocab);
}

describe('PEFT adapters with token rows (as PEFT writes them)', () => {
  it('dict form with different ids per module on an untied model: each module gets its own rows', async () => {
    const { model, tokenizer } = await loadBase({ model: dirs['padded-untied'] });
    const d = model.config.dim;
    const before = { emb266: embRow(model, 266), head265: headRow(model, 265) };
    const dir = await peftDir(
      'dict-untied',
      model,
      { trainable_token_indices: { embed_tokens: [267, 265], lm_head: [266, 270] } },
      { [EMBED_ROWS_KEY]: rowsOf(2, d, 1), [HEAD_ROWS_KEY]: rowsOf(2, d, 2) },
    );
    const result = await importPeftAdapters(model, tokenizer, dir);
    expect(result).toMatchObject({ kind: 'lora', tokenRows: 2, tokensAdded: 0 });
    const E = rowsOf(2, d, 1).data;
    const H = rowsOf(2, d, 2).data;
    expect(embRow(model, 267)).toEqual(row(E, 0, d));
    expect(embRow(model, 265)).toEqual(row(E, 1, d));
    expect(headRow(model, 266)).toEqual(row(H, 0, d));
    expect(headRow(model, 270)).toEqual(row(H, 1, d));
    // rows the adapter does not train keep the model's values: never embed ids reused for lm_head
    expect(embRow(model, 266)).toEqual(before.emb266);
    expect(headRow(model, 265)).toEqual(before.head265);
    model.dispose();
  });

  it('dict form with different ids per module on a tied model is refused (the rows are one)', async () => {
    const { model, tokenizer } = await loadBase({ model: dirs['padded-tied'] });
    const dir = await peftDir(
      'dict-tied',
      model,
      { trainable_token_indices: { embed_tokens: [265], lm_head: [266] } },
      { [EMBED_ROWS_KEY]: rowsOf(1, 16, 1) },
    );
    await expect(importPeftAdapters(model, tokenizer, dir)).rejects.toThrow(
      /dict-tied\/adapter_config\.json:trainable_token_indices\.lm_head: \[266\] differs from embed_tokens' \[265\], but this model ties lm_head/,
    );
    unchanged(model, 272);
    model.dispose();
  });

  it('list form on an untied model: embedding rows trained, lm_head keeps the base rows (padding ids)', async () => {
    const { model, tokenizer } = await loadBase({ model: dirs['padded-untied'] });
    const d = model.config.dim;
    const baseHead = tf.tidy(() => Array.from(tf.gather(model.head!.weight, [268], 1).dataSync()));
    const dir = await peftDir(
      'list-untied',
      model,
      { trainable_token_indices: [268, 265] },
      { [EMBED_ROWS_KEY]: rowsOf(2, d, 3) },
    );
    await importPeftAdapters(model, tokenizer, dir);
    expect(embRow(model, 268)).toEqual(row(rowsOf(2, d, 3).data, 0, d));
    expect(headRow(model, 268)).toEqual(baseHead); // what PEFT's model computes: lm_head untouched
    model.dispose();
  });

  it('list form on an untied model is refused for ids past the base rows (lm_head row unknown)', async () => {
    const { model, tokenizer } = await loadBase({ model: dirs['partly-grown-untied'] }); // rows 268, ids to 270
    const dir = await peftDir(
      'list-untied-grown',
      model,
      { trainable_token_indices: [265, 269] },
      { [EMBED_ROWS_KEY]: rowsOf(2, 16, 3) },
    );
    await expect(importPeftAdapters(model, tokenizer, dir)).rejects.toThrow(
      /list-untied-grown\/adapter_config\.json:trainable_token_indices: token 269 has a trained embedding row but no lm_head row: this model's head is untied and has 268 rows/,
    );
    unchanged(model, 271);
    model.dispose();
  });

  it('whole matrices saved after a resize (save_embedding_layers) give the rows the adapter does not train', async () => {
    const { model, tokenizer } = await loadBase({ model: dirs['partly-grown-untied'] }); // rows 268 → 271
    const d = model.config.dim;
    // PEFT's matrices after resize_token_embeddings(271): the base rows, then 3 new (random) rows
    const base = tf.tidy(() => model.embedding.dataSync() as Float32Array);
    const baseHead = tf.tidy(() => tf.transpose(model.head!.weight).dataSync() as Float32Array);
    const grown = (b: Float32Array, k: number) => {
      const m = new Float32Array(271 * d);
      m.set(b);
      m.set(rowsOf(3, d, k).data, 268 * d);
      return { shape: [271, d], data: m };
    };
    const dir = await peftDir(
      'matrices',
      model,
      { trainable_token_indices: { embed_tokens: [266, 270], lm_head: [270] } },
      {
        [EMBED_ROWS_KEY]: rowsOf(2, d, 1),
        [HEAD_ROWS_KEY]: rowsOf(1, d, 2),
        [EMBED_MATRIX_KEYS[1]]: grown(base, 5),
        [HEAD_MATRIX_KEYS[1]]: grown(baseHead, 6),
      },
    );
    expect(await importPeftAdapters(model, tokenizer, dir)).toMatchObject({ tokenRows: 6 });
    expect(embRow(model, 266)).toEqual(row(rowsOf(2, d, 1).data, 0, d)); // trained row
    expect(embRow(model, 265)).toEqual(row(base, 265, d)); // untrained padding row: the base's, as in PEFT
    expect(embRow(model, 269)).toEqual(row(rowsOf(3, d, 5).data, 1, d)); // untrained new row: the saved matrix's
    expect(headRow(model, 270)).toEqual(row(rowsOf(1, d, 2).data, 0, d));
    expect(headRow(model, 268)).toEqual(row(rowsOf(3, d, 6).data, 0, d));
    model.dispose();
  });

  it('LoRA only after a resize: embed_tokens.weight / lm_head.weight give the new rows', async () => {
    const { model, tokenizer } = await loadBase({ model: dirs['padded-tied'] });
    const d = model.config.dim;
    // Qwen-style: resize_token_embeddings(len(tokenizer)) SHRANK the matrix to the 271 ids
    const m = new Float32Array(271 * d);
    m.set((model.embedding.dataSync() as Float32Array).subarray(0, 265 * d));
    m.set(rowsOf(6, d, 7).data, 265 * d);
    const dir = await peftDir(
      'lora-resized',
      model,
      {},
      { [EMBED_MATRIX_KEYS[0]]: { shape: [271, d], data: m } },
    );
    await importPeftAdapters(model, tokenizer, dir);
    expect(embRow(model, 270)).toEqual(row(rowsOf(6, d, 7).data, 5, d));
    expect(embRow(model, 271)).toEqual(row(model.embedding.dataSync() as Float32Array, 271, d)); // padding: base
    model.dispose();
  });

  it.each([
    [
      'a base row that differs (another base)',
      'changed',
      /matrix-bad\/adapter_model\.safetensors:base_model\.model\.model\.embed_tokens\.weight: row 10 differs from this base's/,
    ],
    [
      'fewer rows than the tokenizer has ids',
      'short',
      /embed_tokens\.weight: has 268 rows but the tokenizer has 271 ids/,
    ],
    ['another width', 'wide', /embed_tokens\.weight: has shape \[271,8\]; this model expects \[vocab, 16\]/],
  ])('a whole matrix with %s is refused, nothing changed', async (_, kind, message) => {
    const { model, tokenizer } = await loadBase({ model: dirs['partly-grown-untied'] });
    const d = kind === 'wide' ? 8 : 16;
    const V = kind === 'short' ? 268 : 271;
    const m = new Float32Array(V * d);
    if (kind !== 'wide')
      m.set((model.embedding.dataSync() as Float32Array).subarray(0, Math.min(V, 268) * d));
    if (kind === 'changed') m[10 * d + 3] += 0.5;
    const dir = await peftDir(
      'matrix-bad',
      model,
      {},
      { [EMBED_MATRIX_KEYS[0]]: { shape: [V, d], data: m } },
    );
    await expect(importPeftAdapters(model, tokenizer, dir)).rejects.toThrow(message);
    unchanged(model, 271);
    model.dispose();
  });

  it('token rows of base-vocabulary ids, and rows of other modules, are refused', async () => {
    const { model, tokenizer } = await loadBase({ model: dirs['padded-tied'] });
    const base = await peftDir(
      'base-row',
      model,
      { trainable_token_indices: [100] },
      { [EMBED_ROWS_KEY]: rowsOf(1, 16, 1) },
    );
    await expect(importPeftAdapters(model, tokenizer, base)).rejects.toThrow(
      /trainable_token_indices: token row 100 is outside this model's added rows \(ids 265–270\)/,
    );
    const other = await peftDir('other-module', model, { trainable_token_indices: { embed_in: [265] } }, {});
    await expect(importPeftAdapters(model, tokenizer, other)).rejects.toThrow(
      /trainable_token_indices\.embed_in: rows of module embed_in are not supported; expected embed_tokens and\/or lm_head/,
    );
    unchanged(model, 272);
    model.dispose();
  });
});

describe('the adapter_config.json PEFT wrote (TinyLlama, r 16, q/v)', () => {
  const FILE = `${ROOT}../shared/models/hf/peft/adapter_config.json`;

  it('is read: rank, alpha, dropout, targets, base; no token rows', async () => {
    const config = parseAdapterConfig(await readJson(FILE), FILE);
    expect(config).toEqual({
      rank: 16,
      loraAlpha: 32,
      rsLora: false,
      dropout: 0.05,
      targets: ['q', 'v'],
      baseModel: 'TinyLlama/TinyLlama-1.1B-Chat-v1.0',
      tokenIndices: null,
      headTokenIndices: null,
      tokenForm: null,
    });
  });

  it('an adapter with it imports as a single LoRA of that config (weights made here at a tiny shape)', async () => {
    const { model, tokenizer } = await loadModel(dirs['padded-tied']);
    const dir = await peftDir('tinyllama-config', model, {}, {});
    const real = await readJson(FILE);
    // the real file, with only r matching the tensors written for this tiny model
    await writeFile(join(dir, 'adapter_config.json'), JSON.stringify({ ...real, r: R }));
    expect(await importPeftAdapters(model, tokenizer, dir)).toMatchObject({ kind: 'lora', tokenRows: 0 });
    expect(getExperts(model)!.config).toMatchObject({
      kind: 'lora',
      rank: R,
      loraAlpha: 32,
      dropout: 0.05,
      targets: ['q', 'v'],
    });
    model.dispose();
  });
});
