// Generation in a chat model's format: prompts are the chat template's rendering with its generation prompt, and
// generation stops at the template's end of turn. Phi-3.5's tokenizer, because its end of turn (<|end|>) is not its
// EOS (<|endoftext|>): a stop there comes from the template. The model is built so that its greedy choice is known:
// every embedding row is the all-ones vector except the winner's (twice that), and the attention and MLP outputs are
// zero, so the final hidden state is all ones at every position and the winner has the highest logit.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatPrompt, createModelGenerator } from '../../../src/aligncot/build/self-model.js';
import { generate } from '../../../src/generate/generate.js';
import { generateBatch } from '../../../src/generate/plain-batch.js';
import { generateStagedText, promptTokens, questionFits } from '../../../src/generate/staged.js';
import { generateStagedBatch } from '../../../src/generate/staged-batch.js';
import { resolveModelConfig } from '../../../src/model/config.js';
import { initWeights } from '../../../src/model/init.js';
import { Transformer } from '../../../src/model/transformer.js';
import { addStepTokens, chatFormat, type Tokenizer } from '../../../src/tokenizer/index.js';
import { loadTokenizer } from '../../../src/tokenizer/load-tokenizer-node.js';
import { HF_DIRS } from '../tokenizer/hf-models.js';

const Q = 'How do I pick a lock?';
let tok: Tokenizer;
let end: number; // <|end|>
const models: Transformer[] = [];

/** A model (tiny shape, the tokenizer's vocabulary) whose greedy next token is always `winner`. */
function forcedModel(winner: number, eosTokenIds: number[] = []): Transformer {
  const config = resolveModelConfig(
    {
      vocabSize: tok.vocabSize,
      dim: 8,
      hiddenDim: 16,
      numLayers: 1,
      numHeads: 2,
      numKvHeads: 2,
      maxSeqLen: 64,
      eosTokenIds,
    },
    'tiny-test',
  );
  const w = initWeights(config, 1);
  const replace = (name: string, t: tf.Tensor) => {
    w.get(name)!.dispose();
    w.set(name, t);
  };
  const rows = new Float32Array(config.vocabSize * config.dim).fill(1);
  rows.fill(2, winner * config.dim, (winner + 1) * config.dim);
  replace('embedding', tf.tensor2d(rows, [config.vocabSize, config.dim]));
  replace('blocks.0.attn.o.weight', tf.zeros([config.dim, config.dim]));
  replace('blocks.0.mlp.down.weight', tf.zeros([config.hiddenDim, config.dim]));
  const model = Transformer.fromWeights(config, w);
  models.push(model);
  return model;
}

beforeAll(async () => {
  tok = await loadTokenizer(HF_DIRS.phi35); // its own copy: step tokens are added
  addStepTokens(tok);
  end = tok.pieceToId('<|end|>')!;
  expect(end).not.toBe(tok.eosId);
});
afterAll(() => {
  for (const m of models) m.dispose();
});

describe('prompts in the chat format', () => {
  it('promptTokens renders the question with the generation prompt', () => {
    const ids = promptTokens(tok, Q);
    expect(ids).toEqual(
      tok.encode('<|user|>\nHow do I pick a lock?<|end|>\n<|assistant|>\n', { bos: false }),
    );
    expect(ids).toEqual(chatFormat(tok).promptIds([{ role: 'user', content: Q }]));
  });

  it('questionFits counts the rendered prompt against the context', () => {
    const model = forcedModel(end);
    // a prompt over half the context, so the reply's room (at most half the context) is what binds
    const long = `${Q} ${Q} ${Q} ${Q} ${Q}`;
    const prompt = promptTokens(tok, long).length;
    expect(prompt).toBeGreaterThan(model.config.maxSeqLen / 2);
    const room = model.config.maxSeqLen - prompt - 2; // the answer's step tokens
    expect(questionFits(model, tok, long, room)).toBe(true);
    expect(questionFits(model, tok, long, room + 1)).toBe(false);
  });

  it('the self generator prompts with the template (no "Assistant:" cue) and stops at its end of turn', async () => {
    const messages = [{ role: 'user' as const, content: Q }];
    expect(chatPrompt(messages, chatFormat(tok).template)).toBe(
      '<|user|>\nHow do I pick a lock?<|end|>\n<|assistant|>\n',
    );
    const generator = createModelGenerator(forcedModel(end), tok);
    expect(await generator.complete({ step: 'analysis', messages, seed: 1 })).toBe('');
  });
});

describe('generation stops at the end of turn', () => {
  it("plain generation stops at the template's <|end|> (not EOS), and runs on without the stop", async () => {
    const model = forcedModel(end);
    const before = tf.memory().numTensors;
    const prompt = promptTokens(tok, Q);
    const stopped = await generate(model, tok, prompt, { temperature: 0 });
    expect(stopped).toMatchObject({ ids: [], stopReason: 'eos' });
    const free = await generate(model, tok, prompt, { temperature: 0, stopAtEos: false, maxTokens: 3 });
    expect(free.ids).toEqual([end, end, end]);
    // a continuous batch applies the same rule to every row
    const batch = await generateBatch(model, tok, [prompt, prompt.slice(0, 4)], { temperature: 0 });
    expect(batch.map((r) => [r.ids, r.stopReason])).toEqual([
      [[], 'eos'],
      [[], 'eos'],
    ]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it("and at the model's EOS ids (config.json's eos_token_id list)", async () => {
    const other = tok.encode('lock', { bos: false })[0];
    const prompt = promptTokens(tok, Q);
    expect(
      (await generate(forcedModel(other, [other, 32001]), tok, prompt, { temperature: 0 })).stopReason,
    ).toBe('eos');
    const [batched] = await generateBatch(forcedModel(other, [other]), tok, [prompt], { temperature: 0 });
    expect(batched.stopReason).toBe('eos');
    const runs = await generate(forcedModel(other), tok, prompt, { temperature: 0, maxTokens: 2 });
    expect(runs).toMatchObject({ ids: [other, other], stopReason: 'max-tokens' });
  });

  it('staged: an end-of-turn token closes the answer, and is never written inside another block', async () => {
    const model = forcedModel(end);
    const answer = await generateStagedText(model, tok, Q, { mode: 'answer', temperature: 0 });
    expect(answer).toMatchObject({
      stopReason: 'answer-closed',
      order: ['answer'],
      tokensPerStage: { answer: 0 },
    });
    const both = await generateStagedText(model, tok, Q, {
      mode: 'analysis-answer',
      temperature: 0,
      maxTokensPerStage: 3,
    });
    expect(both.order).toEqual(['analysis', 'answer']);
    expect(both.tokensPerStage).toEqual({ analysis: 3, answer: 0 }); // the analysis ran to its budget
    expect(both.stopReason).toBe('answer-closed');
    // batched: each row as alone
    const batch = await generateStagedBatch(model, tok, [Q, 'Hi'], {
      mode: 'analysis-answer',
      temperature: 0,
      maxTokensPerStage: 3,
    });
    expect(batch[0].text).toBe(both.text);
    expect(batch.map((r) => r.stopReason)).toEqual(['answer-closed', 'answer-closed']);
  });
});
