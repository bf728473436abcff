// Staged generation: the right expert for every token (checked against an unmerged full forward with per-token
// step routing), forced modes, budgets, merged ≡ unmerged decoding.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { formatQuestion, parseChainText } from '../../../src/aligncot/format.js';
import { stepTokenIds, THREE_STAGE } from '../../../src/aligncot/stages.js';
import { attachExperts } from '../../../src/experts/attach.js';
import { buildStepRoute, type TokenStage, withRoute } from '../../../src/experts/routing.js';
import { argmax } from '../../../src/generate/sampler.js';
import { generateStaged, generateStagedText } from '../../../src/generate/staged.js';
import type { StagedEvent } from '../../../src/generate/types.js';
import { loadLlama2c } from '../../../src/io/llama2c-node.js';
import type { Transformer } from '../../../src/model/transformer.js';
import { addStepTokens, type Llama2cTokenizer } from '../../../src/tokenizer/index.js';
import { loadLlama2cTokenizer } from '../../../src/tokenizer/llama2c-tokenizer-node.js';
import { STORIES_BIN, TOK512_BIN } from '../../helpers/index.js';

let model: Transformer;
let tok: Llama2cTokenizer;
const Q = 'How do I pick a lock?';

beforeAll(async () => {
  tok = await loadLlama2cTokenizer(TOK512_BIN, 512);
  addStepTokens(tok);
  model = await loadLlama2c(STORIES_BIN);
  model.addTokens(tok.vocabSize - 512);
  // non-zero B so that every expert changes the output
  attachExperts(model, { kind: 'mote', rank: 4, initLoraWeights: false, seed: 5 });
});

async function collect(config: Parameters<typeof generateStaged>[3]) {
  const events: StagedEvent[] = [];
  const it = generateStaged(model, tok, Q, config);
  for (let r = await it.next(); !r.done; r = await it.next()) events.push(r.value);
  return events;
}

describe('generateStaged', () => {
  it('uses the expert of each step for every token (equal to an unmerged forward with per-token routing)', async () => {
    const events = await collect({ mode: 'full', temperature: 0, maxTokensPerStage: 6 });
    const done = events.at(-1) as Extract<StagedEvent, { type: 'done' }>;
    expect(done.result.order).toEqual(['analysis', 'guidance', 'answer']);
    // rebuild the whole sequence and its per-token labels
    const steps = stepTokenIds(tok, THREE_STAGE);
    const prompt = tok.encode(formatQuestion(Q), { bos: true });
    const ids = [...prompt];
    const labels: TokenStage[] = prompt.map(() => null); // question → shared only at inference
    const generated: { pos: number; stage: string; id: number }[] = [];
    for (const e of events) {
      if (e.type === 'stage-start') {
        ids.push(steps.get(e.stage)!.start);
        labels.push(e.stage);
      } else if (e.type === 'token') {
        expect(e.expert).toBe(e.stage);
        generated.push({ pos: ids.length - 1, stage: e.stage, id: e.id });
        ids.push(e.id);
        labels.push(e.stage);
      } else if (e.type === 'stage-end') {
        ids.push(steps.get(e.stage)!.end);
        labels.push(e.stage);
      }
    }
    const T = ids.length;
    const route = buildStepRoute(labels, [1, T], {
      experts: ['analysis', 'guidance', 'answer'],
      question: 'shared',
    });
    const logits = tf.tidy(() =>
      model.forward(tf.tensor2d([ids], [1, T], 'int32'), { ctx: withRoute(route) }),
    );
    const rows = logits.arraySync() as number[][];
    logits.dispose();
    route.dispose();
    const banned = new Set(
      [...steps.values()].flatMap((s) => [s.start, s.end]).concat([tok.bosId, tok.eosId]),
    );
    for (const g of generated) {
      const row = Float32Array.from(rows[g.pos], (v, i) => (banned.has(i) ? Number.NEGATIVE_INFINITY : v));
      expect(argmax(row), `token at ${g.pos} (${g.stage})`).toBe(g.id);
    }
    // and with another expert for the guidance tokens, some guidance prediction changes
    const wrong = buildStepRoute(
      labels.map((l) => (l === 'guidance' ? 'analysis' : l)),
      [1, T],
      { experts: ['analysis', 'guidance', 'answer'], question: 'shared' },
    );
    const other = tf.tidy(() =>
      model.forward(tf.tensor2d([ids], [1, T], 'int32'), { ctx: withRoute(wrong) }),
    );
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(other, tf.tensor2d(rows)))).dataSync()[0]);
    expect(diff).toBeGreaterThan(1e-3);
    other.dispose();
    wrong.dispose();
  });

  it.each([
    ['answer', ['answer']],
    ['analysis-answer', ['analysis', 'answer']],
    ['full', ['analysis', 'guidance', 'answer']],
    [
      ['guidance', 'answer'],
      ['guidance', 'answer'],
    ],
  ] as const)('forced mode %j writes exactly %j', async (mode, order) => {
    const r = await generateStagedText(model, tok, Q, {
      mode: mode as never,
      temperature: 0.9,
      seed: 1,
      maxTokensPerStage: 5,
    });
    expect(r.order).toEqual(order);
    expect(Object.keys(r.stages).sort()).toEqual([...order].sort());
    // the text reads back as a chain with exactly those stages
    const parsed = parseChainText(`User: ${Q}\n${r.text}`);
    expect(parsed.answer).toBe(r.stages.answer);
  });

  it('honours per-stage and total budgets', async () => {
    const r = await generateStagedText(model, tok, Q, {
      mode: 'full',
      temperature: 0,
      maxTokensPerStage: { analysis: 3, guidance: 2, answer: 4 },
    });
    expect(r.tokensPerStage.analysis).toBeLessThanOrEqual(3);
    expect(r.tokensPerStage.guidance).toBeLessThanOrEqual(2);
    expect(r.tokensPerStage.answer).toBeLessThanOrEqual(4);
    const capped = await generateStagedText(model, tok, Q, { mode: 'full', temperature: 0, maxTokens: 7 });
    expect(capped.totalTokens).toBeLessThanOrEqual(7);
    expect(capped.stopReason).toBe('max-tokens');
  });

  it('merged-weight decoding gives the same tokens as unmerged per-token mixing', async () => {
    const cfg = { mode: 'full' as const, temperature: 0, maxTokensPerStage: 8 };
    const merged = await generateStagedText(model, tok, Q, { ...cfg, decoder: 'host' });
    const unmerged = await generateStagedText(model, tok, Q, { ...cfg, decoder: 'tensor', merged: false });
    expect(unmerged.text).toBe(merged.text);
  });

  it('adaptive mode writes a well-formed chain ending with the answer', async () => {
    const r = await generateStagedText(model, tok, Q, { temperature: 0.8, seed: 3, maxTokensPerStage: 6 });
    expect(r.order.at(-1)).toBe('answer');
    const order = ['analysis', 'guidance', 'answer'];
    expect(r.order.map((s) => order.indexOf(s))).toEqual([...r.order.map((s) => order.indexOf(s))].sort());
  });

  it('rejects bad modes and models without step tokens', async () => {
    await expect(
      generateStagedText(model, tok, Q, { mode: ['guidance', 'analysis', 'answer'] }),
    ).rejects.toThrow(/expected stages in chain order/);
    await expect(generateStagedText(model, tok, Q, { mode: ['analysis'] })).rejects.toThrow(
      /ending with 'answer'/,
    );
    const plain = await loadLlama2cTokenizer(TOK512_BIN, 512);
    await expect(generateStagedText(model, plain, Q)).rejects.toThrow(/call addStepTokens/);
  });
});
