// A model with more embedding rows than its tokenizer has ids (Qwen2.5: 151,936 rows, 151,665 ids; the step tokens
// take six of the padding rows, the rest stay unused): generation never picks an id past the tokenizer's, which no
// tokenizer could decode. The model is built so that its greedy choice is known: the attention and MLP outputs are
// zero, so the final hidden state is the (normalised) input row, every embedding row is the all-ones vector except
// a padding row (three times that) and one real token's (twice that): the padding id has the highest logit, the real
// token the highest among the tokenizer's ids.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generate } from '../../../src/generate/generate.js';
import { generateBatch } from '../../../src/generate/plain-batch.js';
import { argmax, tokenizerLogits } from '../../../src/generate/sampler.js';
import { generateStagedText, promptTokens } from '../../../src/generate/staged.js';
import { resolveModelConfig } from '../../../src/model/config.js';
import { initWeights } from '../../../src/model/init.js';
import { Transformer } from '../../../src/model/transformer.js';
import { addStepTokens, type Tokenizer } from '../../../src/tokenizer/index.js';
import { loadTokenizer } from '../../../src/tokenizer/load-tokenizer-node.js';
import { HF_DIRS } from '../tokenizer/hf-models.js';

const PADDING = 10;
let tok: Tokenizer;
let model: Transformer;
let real: number; // the real token with the highest logit
let pad: number; // the padding id with the highest logit of all

beforeAll(async () => {
  tok = await loadTokenizer(HF_DIRS.smollm2);
  addStepTokens(tok);
  real = tok.encode(' lock', { bos: false })[0];
  pad = tok.vocabSize + 3;
  const config = resolveModelConfig(
    {
      vocabSize: tok.vocabSize + PADDING,
      dim: 8,
      hiddenDim: 16,
      numLayers: 1,
      numHeads: 2,
      numKvHeads: 2,
      maxSeqLen: 64,
    },
    'tiny-test',
  );
  const w = initWeights(config, 1);
  const replace = (name: string, t: tf.Tensor) => {
    w.get(name)!.dispose();
    w.set(name, t);
  };
  const rows = new Float32Array(config.vocabSize * config.dim).fill(1);
  rows.fill(2, real * config.dim, (real + 1) * config.dim);
  rows.fill(3, pad * config.dim, (pad + 1) * config.dim);
  replace('embedding', tf.tensor2d(rows, [config.vocabSize, config.dim]));
  replace('blocks.0.attn.o.weight', tf.zeros([config.dim, config.dim]));
  replace('blocks.0.mlp.down.weight', tf.zeros([config.hiddenDim, config.dim]));
  model = Transformer.fromWeights(config, w);
});
afterAll(() => model?.dispose());

describe('padding rows past the tokenizer', () => {
  it("the model's own argmax is the padding id", () => {
    const t = model.logits([[real]]);
    const last = t.dataSync() as Float32Array; // (1, vocab)
    t.dispose();
    expect(last).toHaveLength(tok.vocabSize + PADDING);
    expect(last.indexOf(Math.max(...last))).toBe(pad);
    expect(argmax(tokenizerLogits(last, tok.vocabSize))).toBe(real);
  });

  it.each(['host', 'tensor'] as const)(
    'generate (%s decoder) samples only tokenizer ids',
    async (decoder) => {
      const greedy = await generate(model, tok, [real], { temperature: 0, maxTokens: 3, decoder });
      expect(greedy.ids).toEqual([real, real, real]);
      // sampling over the whole vocabulary: many draws, none past the tokenizer
      const sampled = await generate(model, tok, [real], {
        temperature: 5,
        topP: 1,
        maxTokens: 40,
        seed: 3,
        decoder,
        stopAtEos: false,
      });
      expect(sampled.ids).toHaveLength(40);
      expect(Math.max(...sampled.ids)).toBeLessThan(tok.vocabSize);
    },
  );

  it.each(['host', 'tensor'] as const)(
    'a continuous batch (%s rows) samples only tokenizer ids',
    async (decoder) => {
      const rows = await generateBatch(model, tok, [[real], [real, real]], {
        temperature: 0,
        maxTokens: 3,
        decoder,
        batchSize: 2,
      });
      expect(rows.map((r) => r.ids)).toEqual([
        [real, real, real],
        [real, real, real],
      ]);
    },
  );

  it('staged generation samples only tokenizer ids inside a block', async () => {
    expect(promptTokens(tok, 'How do I pick a lock?').length).toBeGreaterThan(0);
    const r = await generateStagedText(model, tok, 'How do I pick a lock?', {
      mode: 'answer',
      temperature: 0,
      maxTokensPerStage: 3,
    });
    expect(r.order).toEqual(['answer']);
    expect(r.tokensPerStage.answer).toBe(3);
    expect(r.stages.answer).toBe('lock lock lock');
  });
});
