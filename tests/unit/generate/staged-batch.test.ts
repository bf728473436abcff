// Batched staged generation: a batch of prompts of different lengths, in different stages at the same decode step,
// writes what each prompt writes alone (generateStaged): texts, stage order, token counts and every event; forced
// modes and budgets per row; no tensor left behind; bad input rejected.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { attachExperts } from '../../../src/experts/attach.js';
import { decodeRoute, routeOf, withRoute } from '../../../src/experts/routing.js';
import { generateStaged } from '../../../src/generate/staged.js';
import { generateStagedBatch, type StagedBatchConfig } from '../../../src/generate/staged-batch.js';
import type { StagedEvent, StagedResult } from '../../../src/generate/types.js';
import { loadLlama2c } from '../../../src/io/llama2c-node.js';
import { MASKED } from '../../../src/model/attention.js';
import type { Transformer } from '../../../src/model/transformer.js';
import { addStepTokens, type Llama2cTokenizer } from '../../../src/tokenizer/index.js';
import { loadLlama2cTokenizer } from '../../../src/tokenizer/llama2c-tokenizer-node.js';
import { expectClose, STORIES_BIN, TOK512_BIN } from '../../helpers/index.js';

let model: Transformer;
let tok: Llama2cTokenizer;
// different lengths (the longest is 4× the shortest in tokens)
const QS = [
  'How do I pick a lock?',
  'Hi',
  'Tell me a story about a cat.',
  'Why is the sky blue?',
  'Lily went to the park and saw a big red ball',
  'Can I pet a dog?',
];

beforeAll(async () => {
  tok = await loadLlama2cTokenizer(TOK512_BIN, 512);
  addStepTokens(tok);
  model = await loadLlama2c(STORIES_BIN);
  model.addTokens(tok.vocabSize - 512);
  // non-zero B so that every expert changes the output
  attachExperts(model, { kind: 'mote', rank: 4, initLoraWeights: false, seed: 5 });
  // Step-token rows set apart from the mean embedding (seeded), so the model's own choices differ by prompt: which
  // stage comes first, and when a block is closed (measured: analysis blocks of 2 to 8 tokens at budget 8).
  const std = tf.tidy(() => tf.sqrt(tf.moments(model.embedding).variance).dataSync()[0]);
  const added = model.addedEmbedding!;
  added.assign(tf.tidy(() => tf.add(added, tf.randomNormal(added.shape, 0, 2 * std, 'float32', 3))));
});

/** Each prompt alone: its result and its events (timings zeroed). */
async function alone(qs: readonly string[], config: Partial<StagedBatchConfig>) {
  const out: { result: StagedResult; events: string[] }[] = [];
  for (const q of qs) {
    const events: string[] = [];
    const it = generateStaged(model, tok, q, config);
    let r = await it.next();
    for (; !r.done; r = await it.next()) events.push(stable(r.value));
    out.push({ result: r.value, events });
  }
  return out;
}

/** An event without its timings. */
const stable = (e: StagedEvent) => JSON.stringify(e, (k, v) => (k === 'ms' ? 0 : v));

/**
 * The batch's results, each prompt's events, the rows of each forward (`widths`), and how many forwards had rows
 * in different stages (`mixed`: a per-row route whose steps differ).
 */
async function batched(qs: readonly string[], config: Partial<StagedBatchConfig>) {
  const events: string[][] = qs.map(() => []);
  const decode = vi.spyOn(model, 'decode');
  try {
    const results = await generateStagedBatch(model, tok, qs, config, (i, e) => events[i].push(stable(e)));
    const calls = decode.mock.calls;
    const widths = calls.map(([ids]) => ids.length);
    const mixed = calls.filter(
      ([ids, , o]) => ids.length > 1 && routeOf(o?.ctx)?.uniformStep() === null,
    ).length;
    return { results, events, widths, mixed };
  } finally {
    decode.mockRestore();
  }
}

const same = (r: StagedResult) => ({
  stages: r.stages,
  order: r.order,
  tokensPerStage: r.tokensPerStage,
  totalTokens: r.totalTokens,
  text: r.text,
  stopReason: r.stopReason,
});

describe('generateStagedBatch', () => {
  it('greedy: equals each prompt alone, with rows in different stages at the same decode step', async () => {
    const config = { temperature: 0, maxTokensPerStage: 8, batchSize: 8 };
    const { results, events, widths, mixed } = await batched(QS, config);
    const ref = await alone(QS, config);
    for (const [i, r] of results.entries()) {
      expect(same(r), QS[i]).toEqual(same(ref[i].result));
      expect(events[i], QS[i]).toEqual(ref[i].events);
    }
    // one batched forward per step (prefill, then one token per row), rows leaving as they finish
    expect(widths[0]).toBe(QS.length);
    expect(widths).toEqual([...widths].sort((a, b) => b - a));
    expect(widths.at(-1)).toBeLessThan(QS.length);
    // the experts really were mixed per row in one forward
    expect(mixed).toBeGreaterThan(0);
    const stagesAt = (e: string[]) =>
      e
        .map((s) => JSON.parse(s) as StagedEvent)
        .flatMap((x) =>
          x.type === 'stage-start' || x.type === 'token'
            ? [x.stage]
            : x.type === 'stage-end' && (x.closedBy === 'model' || x.closedBy === 'budget')
              ? [x.stage]
              : [],
        ); // the stage of each fed token, decode step by decode step
    const perRow = events.map(stagesAt);
    const steps = Math.max(...perRow.map((s) => s.length));
    const split = [...Array(steps).keys()].filter(
      (k) => new Set(perRow.map((s) => s[k]).filter(Boolean)).size > 1,
    );
    expect(split.length).toBeGreaterThan(0);
    // and the model's choices differ by prompt: first stages, and stage lengths
    expect(new Set(results.map((r) => JSON.stringify(r.tokensPerStage))).size).toBeGreaterThan(1);
  });

  it('unmerged (merged: false): rows mixed by the segmented kernel, equal to each prompt alone', async () => {
    const config = { temperature: 0, maxTokensPerStage: 6, merged: false, batchSize: 4 };
    const qs = QS.slice(0, 4);
    const { results, mixed } = await batched(qs, config);
    const ref = await alone(qs, config);
    for (const [i, r] of results.entries()) expect(same(r)).toEqual(same(ref[i].result));
    expect(mixed).toBeGreaterThan(0);
  });

  it('sampling (temperature 0.9): each row samples as its prompt alone does', async () => {
    const config = { temperature: 0.9, seed: 3, maxTokensPerStage: 6, batchSize: 4 };
    const qs = QS.slice(0, 4);
    const { results } = await batched(qs, config);
    const ref = await alone(qs, config);
    for (const [i, r] of results.entries()) expect(same(r)).toEqual(same(ref[i].result));
  });

  it.each([
    ['answer', ['answer']],
    ['analysis-answer', ['analysis', 'answer']],
    ['full', ['analysis', 'guidance', 'answer']],
  ] as const)(
    'forced mode %j in batches of 2 (prompts in input order): every row writes %j',
    async (mode, order) => {
      const config = {
        mode,
        temperature: 0,
        maxTokensPerStage: { analysis: 3, guidance: 2, answer: 5 },
        batchSize: 2,
      };
      const qs = QS.slice(0, 5); // 3 batches, the last of one row
      const { results } = await batched(qs, config);
      const ref = await alone(qs, config);
      for (const [i, r] of results.entries()) {
        expect(r.order).toEqual(order);
        expect(r.tokensPerStage.analysis ?? 0).toBeLessThanOrEqual(3);
        expect(r.tokensPerStage.guidance ?? 0).toBeLessThanOrEqual(2);
        expect(r.tokensPerStage.answer).toBeLessThanOrEqual(5);
        expect(same(r)).toEqual(same(ref[i].result));
      }
    },
  );

  it('honours the total budget per row', async () => {
    const config = { mode: 'full' as const, temperature: 0, maxTokens: 7 };
    const { results } = await batched(QS, config);
    const ref = await alone(QS, config);
    for (const [i, r] of results.entries()) {
      expect(r.totalTokens).toBeLessThanOrEqual(7);
      expect(r.stopReason).toBe('max-tokens');
      expect(same(r)).toEqual(same(ref[i].result));
    }
  });

  it('a left-padded row attends as unpadded: masked pad keys, relative RoPE', () => {
    const long = tok.encode(QS[4], { bos: true });
    const short = tok.encode(QS[1], { bos: true });
    const pad = long.length - short.length;
    const mask = (T: number, S: number) =>
      tf.tensor3d(
        Float32Array.from({ length: 2 * T * S }, (_, i) => (i >= T * S && i % S < pad ? MASKED : 0)),
        [2, T, S],
      );
    const ctx = withRoute(decodeRoute(['analysis', 'guidance', 'answer'], 'guidance', { merged: false }));
    const cache = model.newCache(2);
    const m0 = mask(long.length, long.length);
    const first = model.decode([long, [...Array(pad).fill(0), ...short]], cache, { ctx, attnMask: m0 });
    const m1 = mask(1, long.length + 1);
    const next = model.decode([[7], [7]], cache, { ctx, attnMask: m1 });
    const solo = model.newCache(1);
    const soloFirst = model.decode([short], solo, { ctx });
    const soloNext = model.decode([[7]], solo, { ctx });
    expectClose(tf.slice(first, [1, 0], [1, -1]), soloFirst, 1e-4, 1e-4);
    expectClose(tf.slice(next, [1, 0], [1, -1]), soloNext, 1e-4, 1e-4);
    for (const t of [m0, m1, first, next, soloFirst, soloNext]) t.dispose();
    cache.dispose();
    solo.dispose();
  });

  it('leaves no tensor behind', async () => {
    const config = { temperature: 0, maxTokensPerStage: 4, batchSize: 3 };
    await generateStagedBatch(model, tok, QS, config); // merged weights are cached by the layers on first use
    const before = tf.memory().numTensors;
    await generateStagedBatch(model, tok, QS, config);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects bad input', async () => {
    await expect(generateStagedBatch(model, tok, [])).rejects.toThrow(/non-empty list of questions/);
    await expect(generateStagedBatch(model, tok, QS, { batchSize: 0 })).rejects.toThrow(
      /batchSize = 0; expected a positive integer/,
    );
    await expect(generateStagedBatch(model, tok, QS, { batchSize: 2.5 })).rejects.toThrow(/batchSize/);
    await expect(generateStagedBatch(model, tok, QS, { decoder: 'host' })).rejects.toThrow(
      /the host decoder runs one sequence/,
    );
    await expect(generateStagedBatch(model, tok, QS, { mode: ['analysis'] })).rejects.toThrow(
      /ending with 'answer'/,
    );
    await expect(generateStagedBatch(model, tok, ['x'.repeat(3000)])).rejects.toThrow(
      /generateStagedBatch: the question has \d+ tokens, the model's context is 512/,
    );
  });
});
