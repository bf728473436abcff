// Batched staged generation with continuous batching, on both row decoders (host: WebAssembly kernels, one KV cache
// per sequence; tensor: the tfjs graph, one right-aligned cache tensor): prompts of different lengths, in different
// stages at the same decode step, write what each writes alone (generateStaged): texts, stage order, token counts and
// every event; a finished row takes the next prompt at once; forced modes and budgets per row; rows at different
// positions in one cache attend as they would alone; no tensor left behind; bad input rejected.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { attachExperts } from '../../../src/experts/attach.js';
import { decodeRoute, withRoute } from '../../../src/experts/routing.js';
import { HostRows, type RowDecoder, type RowFeed } from '../../../src/generate/batch/rows.js';
import { TensorRows } from '../../../src/generate/batch/tensor-rows.js';
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
 * The batch's results, each prompt's events, and per forward of the row decoder in use: `kinds` ('start' of a
 * prompt, or 'step' of every live row), the rows of each step (`widths`), and how many steps had rows in
 * different stages (`mixed`).
 */
async function batched(qs: readonly string[], config: Partial<StagedBatchConfig>) {
  const events: string[][] = qs.map(() => []);
  const kinds: ('start' | 'step')[] = [];
  const widths: number[] = [];
  let mixed = 0;
  const proto = (config.decoder === 'tensor' ? TensorRows : HostRows).prototype as RowDecoder;
  const realStart = proto.start;
  const realStep = proto.step;
  proto.start = async function (this: RowDecoder, ...a: Parameters<RowDecoder['start']>) {
    kinds.push('start');
    return realStart.apply(this, a);
  };
  proto.step = async function (this: RowDecoder, feeds: readonly RowFeed[]) {
    kinds.push('step');
    widths.push(feeds.length);
    if (new Set(feeds.map((f) => f.expert)).size > 1) mixed++;
    return realStep.call(this, feeds);
  };
  try {
    const results = await generateStagedBatch(model, tok, qs, config, (i, e) => events[i].push(stable(e)));
    return { results, events, kinds, widths, mixed };
  } finally {
    proto.start = realStart;
    proto.step = realStep;
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

describe.each(['host', 'tensor'] as const)('generateStagedBatch on %s rows', (decoder) => {
  it('greedy: equals each prompt alone, with rows in different stages at the same decode step', async () => {
    const config = { temperature: 0, maxTokensPerStage: 8, batchSize: 8, decoder };
    const { results, events, kinds, widths, mixed } = await batched(QS, config);
    const ref = await alone(QS, config);
    for (const [i, r] of results.entries()) {
      expect(same(r), QS[i]).toEqual(same(ref[i].result));
      expect(events[i], QS[i]).toEqual(ref[i].events);
    }
    // each prompt fed alone into its row, all before the first step (8 rows for 6 prompts); then one forward per
    // step for every live row, rows leaving as they finish
    expect(kinds.slice(0, QS.length)).toEqual(QS.map(() => 'start'));
    expect(kinds.filter((k) => k === 'start')).toHaveLength(QS.length);
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

  it('continuous: a finished row takes the next prompt before the next step (batch 2, 6 prompts)', async () => {
    const config = { temperature: 0, maxTokensPerStage: 8, batchSize: 2, decoder };
    const { results, kinds, widths } = await batched(QS, config);
    const ref = await alone(QS, config);
    for (const [i, r] of results.entries()) expect(same(r), QS[i]).toEqual(same(ref[i].result));
    const lastStart = kinds.lastIndexOf('start');
    const stepsWhileWaiting = kinds.slice(0, lastStart).filter((k) => k === 'step').length;
    // prompts start between steps, as rows free up, and no step runs a row short while prompts wait
    expect(kinds.indexOf('step')).toBeLessThan(lastStart);
    expect(stepsWhileWaiting).toBeGreaterThan(0);
    expect(widths.slice(0, stepsWhileWaiting)).toEqual(widths.slice(0, stepsWhileWaiting).map(() => 2));
  });

  it('sampling (temperature 0.9): each row samples as its prompt alone does', async () => {
    const config = { temperature: 0.9, seed: 3, maxTokensPerStage: 6, batchSize: 3, decoder };
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
        decoder,
      };
      const qs = QS.slice(0, 5);
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
    const config = { mode: 'full' as const, temperature: 0, maxTokens: 7, decoder };
    const { results } = await batched(QS, config);
    const ref = await alone(QS, config);
    for (const [i, r] of results.entries()) {
      expect(r.totalTokens).toBeLessThanOrEqual(7);
      expect(r.stopReason).toBe('max-tokens');
      expect(same(r)).toEqual(same(ref[i].result));
    }
  });

  it('leaves no tensor behind', async () => {
    const config = { temperature: 0, maxTokensPerStage: 4, batchSize: 3, decoder };
    await generateStagedBatch(model, tok, QS, config); // merged weights are cached by the layers on first use
    const before = tf.memory().numTensors;
    await generateStagedBatch(model, tok, QS, config);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('generateStagedBatch', () => {
  it('unmerged (merged: false): tensor rows mixed by the segmented kernel, equal to each prompt alone', async () => {
    const config = {
      temperature: 0,
      maxTokensPerStage: 6,
      merged: false,
      batchSize: 4,
      decoder: 'tensor' as const,
    };
    const qs = QS.slice(0, 4);
    const { results, mixed } = await batched(qs, config);
    const ref = await alone(qs, config);
    for (const [i, r] of results.entries()) expect(same(r)).toEqual(same(ref[i].result));
    expect(mixed).toBeGreaterThan(0);
  });

  it("'auto' measures both row decoders once and decodes on the faster", async () => {
    const config = { temperature: 0, maxTokensPerStage: 3, batchSize: 5 };
    const results = await generateStagedBatch(model, tok, QS.slice(0, 3), config);
    const ref = await alone(QS.slice(0, 3), config);
    for (const [i, r] of results.entries()) expect(same(r)).toEqual(same(ref[i].result));
  });

  it('rows at different positions in one cache tensor: each row equals its sequence alone, through joins, steps and leaves', async () => {
    const before = tf.memory().numTensors;
    const rows = new TensorRows(model, true);
    const prompts = [QS[4], QS[1], QS[2]].map((q) => tok.encode(q, { bos: true })); // long, short, middle
    const ctx = (e: 'shared' | 'analysis' | 'answer') =>
      withRoute(decodeRoute(['analysis', 'guidance', 'answer'], e));
    const solo = prompts.map(() => model.newCache(1));
    const soloStep = (i: number, ids: number[], e: 'shared' | 'analysis' | 'answer') => {
      const out = model.decode([ids], solo[i], { ctx: ctx(e) });
      const v = out.dataSync() as Float32Array;
      out.dispose();
      return v;
    };
    const a = await rows.start(prompts[1], 'shared'); // the short one first: the long one pads it
    expectClose(a.logits, soloStep(1, prompts[1], 'shared'), 0, 0);
    const b = await rows.start(prompts[0], 'shared');
    expectClose(b.logits, soloStep(0, prompts[0], 'shared'), 0, 0);
    let [la, second] = await rows.step([
      { row: a.row, id: 7, expert: 'analysis' },
      { row: b.row, id: 9, expert: 'answer' },
    ]);
    expectClose(la, soloStep(1, [7], 'analysis'), 1e-4, 1e-4);
    expectClose(second, soloStep(0, [9], 'answer'), 1e-4, 1e-4);
    expect([rows.position(a.row), rows.position(b.row)]).toEqual([
      prompts[1].length + 1,
      prompts[0].length + 1,
    ]);
    rows.end(b.row); // the long row leaves: the columns only it used are trimmed
    const c = await rows.start(prompts[2], 'shared');
    expectClose(c.logits, soloStep(2, prompts[2], 'shared'), 0, 0);
    let lc: Float32Array;
    [lc, la] = await rows.step([
      { row: c.row, id: 11, expert: 'answer' },
      { row: a.row, id: 12, expert: 'analysis' },
    ]);
    expectClose(la, soloStep(1, [12], 'analysis'), 1e-4, 1e-4);
    expectClose(lc, soloStep(2, [11], 'answer'), 1e-4, 1e-4);
    rows.end(a.row);
    [lc] = await rows.step([{ row: c.row, id: 13, expert: 'analysis' }]);
    expectClose(lc, soloStep(2, [13], 'analysis'), 1e-4, 1e-4);
    rows.dispose();
    for (const s of solo) s.dispose();
    expect(tf.memory().numTensors).toBe(before);
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

  it('rejects bad input', async () => {
    await expect(generateStagedBatch(model, tok, [])).rejects.toThrow(/non-empty list of questions/);
    await expect(generateStagedBatch(model, tok, QS, { batchSize: 0 })).rejects.toThrow(
      /batchSize = 0; expected a positive integer/,
    );
    await expect(generateStagedBatch(model, tok, QS, { batchSize: 2.5 })).rejects.toThrow(/batchSize/);
    await expect(generateStagedBatch(model, tok, QS, { decoder: 'host', merged: false })).rejects.toThrow(
      /the host decoder needs merged weights/,
    );
    await expect(generateStagedBatch(model, tok, QS, { mode: ['analysis'] })).rejects.toThrow(
      /ending with 'answer'/,
    );
    await expect(generateStagedBatch(model, tok, ['x'.repeat(3000)])).rejects.toThrow(
      /generateStagedBatch: the question has \d+ tokens, the model's context is 512/,
    );
  });
});
