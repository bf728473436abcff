// loadBase (run/base.ts) on Hugging Face bases whose embedding has more rows than the tokenizer has ids (Qwen2.5:
// 151,665 ids, 151,936 rows), at a toy shape: the step tokens get the ids after the tokenizer's (as transformers'
// add_special_tokens gives them) and take those padding rows as trainable rows; the matrix grows only by what the
// padding cannot hold. A run trained on such a base is rebuilt from its checkpoint with the trained rows (worker
// replicas: tests/unit/train/replica-padding.test.ts). And the context cap: a HF base loads with at most 4096 positions unless asked otherwise.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MAX_SEQ_LEN, loadBase } from '../../../src/run/base.js';
import { loadRun } from '../../../src/run/load.js';
import { planRun, trainRun } from '../../../src/run/train.js';
import { STEP_TOKENS } from '../../../src/steps.js';
import { SAMPLE_CHAINS } from '../../helpers/chains.js';
import { TINY_TOKENIZER_IDS, writeTinyHfModel } from '../../helpers/tiny-hf-model.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mote-base-'));
});
afterAll(() => rm(root, { recursive: true, force: true }));

const STEP_PIECES = ['analysis', 'guidance', 'answer'].flatMap((s) => {
  const t = STEP_TOKENS[s as keyof typeof STEP_TOKENS];
  return [t.start, t.end];
});

describe('loadBase on a base with padding rows', () => {
  it.each([
    // rows, tied, expected vocabulary after the 6 step tokens
    ['all six in padding rows (tied)', 272, true, 272],
    ['all six in padding rows (untied)', 272, false, 272],
    ['three in padding, three grown (untied)', 268, false, 271],
    ['no padding: all grown (tied)', TINY_TOKENIZER_IDS, true, 271],
  ])('%s', async (name, rows, tied, vocab) => {
    const dir = join(root, name.replace(/\W+/g, '-'));
    await writeTinyHfModel(dir, { rows, tied });
    const { model, tokenizer, stepTokens } = await loadBase({ model: dir });
    try {
      const ids = STEP_PIECES.map((p) => tokenizer.pieceToId(p));
      // the ids transformers' add_special_tokens gives: right after the tokenizer's own
      expect(ids).toEqual([265, 266, 267, 268, 269, 270]);
      expect(stepTokens.analysis).toEqual({ start: 265, end: 266 });
      expect(tokenizer.baseVocabSize).toBe(TINY_TOKENIZER_IDS);
      expect([model.config.vocabSize, model.addedStart, model.embedding.shape[0]]).toEqual([
        vocab,
        265,
        rows,
      ]);
      expect(model.addedEmbedding!.shape).toEqual([6, 16]);
      expect(model.trainableVariables()).toEqual(
        tied ? [model.addedEmbedding] : [model.addedEmbedding, model.addedHead],
      );
      // a step token's embedding is its trainable row (the mean of the 265 token rows), not the padding row
      const row = tf.tidy(() => tf.gather(model.embeddingTable(), [266]).dataSync());
      const mean = tf.tidy(() => tf.mean(tf.slice(model.embedding, [0, 0], [265, -1]), 0).dataSync());
      expect(row).toEqual(mean);
    } finally {
      model.dispose();
    }
  });

  it('a tokenizer with more ids than the embedding has rows is refused, naming both', async () => {
    const dir = join(root, 'too-few-rows');
    await writeTinyHfModel(dir, { rows: 200 });
    await expect(loadBase({ model: dir })).rejects.toThrow(
      /tokenizer .*too-few-rows has 265 ids but model .*too-few-rows \(config\.json vocab_size\) has only 200 embedding rows; ids ≥ 200 would have no row/,
    );
  });
});

describe('the context a HF base loads with', () => {
  let dir: string;
  beforeAll(async () => {
    dir = join(root, 'long-context');
    await writeTinyHfModel(dir, { positions: 8192 });
  });

  it.each([
    ['the default cap', undefined, DEFAULT_MAX_SEQ_LEN],
    ['null: the whole context', null, 8192],
    ['a smaller cap', 300, 300],
    ['a cap above the model’s context', 100_000, 8192],
  ])('%s', async (_, maxSeqLen, expected) => {
    const { model } = await loadBase({ model: dir }, { maxSeqLen });
    expect(model.config.maxSeqLen).toBe(expected);
    expect(model.rope.maxSeqLen).toBe(expected);
    model.dispose();
  });

  it('refuses a cap that is not a positive integer', async () => {
    await expect(loadBase({ model: dir }, { maxSeqLen: 0 })).rejects.toThrow(
      /maxSeqLen must be a positive integer or null, got 0/,
    );
  });
});

describe('a run on a padded base (untied head)', () => {
  it('trains the step-token rows in place, and loadRun restores them from the checkpoint', async () => {
    const base = join(root, 'run-base');
    await writeTinyHfModel(base, { rows: 268, tied: false });
    const data = join(root, 'chains.jsonl');
    await writeFile(
      data,
      SAMPLE_CHAINS.slice(0, 4)
        .map((c) => JSON.stringify(c))
        .join('\n'),
    );
    const out = join(root, 'run');
    const plan = await planRun(out, {
      layers: [
        {
          model: { base, tokenizer: '' },
          experts: { kind: 'mote', rank: 2, seed: 1 },
          train: { epochs: 1, batchSize: 4, microBatchSize: 2, learningRate: 0.05, saveEvery: 0, workers: 1 },
          data: { train: data, maxLen: 96 },
        },
      ],
    });
    const { result } = await trainRun(plan);
    expect(result!.position.step).toBe(1);
    const fresh = await loadBase({ model: base });
    const run = await loadRun(out);
    try {
      expect([run.model.addedStart, run.model.config.vocabSize]).toEqual([265, 271]);
      // the rows and head columns trained (they moved off the mean init) and came back from the checkpoint
      for (const k of ['addedEmbedding', 'addedHead'] as const) {
        const [a, b] = [run.model[k]!.dataSync(), fresh.model[k]!.dataSync()];
        expect(Math.max(...a.map((v, i) => Math.abs(v - b[i])))).toBeGreaterThan(1e-4);
      }
    } finally {
      run.model.dispose();
      fresh.model.dispose();
    }
  });
});
