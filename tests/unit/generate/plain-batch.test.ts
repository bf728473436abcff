// Plain generation in a continuous batch (PlainBatcher, generateBatch): each prompt gets what `generate` gives it
// alone (greedy and seeded sampling, stop strings, EOS, the token budget, the context), on both row decoders; and
// concurrent callers share one batch.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generate } from '../../../src/generate/generate.js';
import { generateBatch, PlainBatcher } from '../../../src/generate/plain-batch.js';
import { loadLlama2c } from '../../../src/io/llama2c-node.js';
import type { Transformer } from '../../../src/model/transformer.js';
import type { Llama2cTokenizer } from '../../../src/tokenizer/index.js';
import { loadLlama2cTokenizer } from '../../../src/tokenizer/llama2c-tokenizer-node.js';
import { STORIES_BIN, TOK512_BIN } from '../../helpers/index.js';

let model: Transformer;
let tok: Llama2cTokenizer;
beforeAll(async () => {
  model = await loadLlama2c(STORIES_BIN);
  tok = await loadLlama2cTokenizer(TOK512_BIN, 512);
});
afterAll(() => model.dispose());

const PROMPTS = ['Once upon a time', 'Lily', 'The dog ran to the park and', 'Tom had a red ball.', 'One day'];

describe.each(['host', 'tensor'] as const)('generateBatch on %s rows', (decoder) => {
  it.each([
    ['greedy, a stop string', { temperature: 0, maxTokens: 40, stop: ['.'] }],
    ['sampled (seeded), no stop', { temperature: 0.9, seed: 7, maxTokens: 24 }],
  ])('%s: every prompt as generate gives it alone', async (_, config) => {
    const batched = await generateBatch(model, tok, PROMPTS, { ...config, batchSize: 2, decoder });
    for (const [i, p] of PROMPTS.entries()) {
      const alone = await generate(model, tok, p, { ...config, decoder });
      expect(batched[i], p).toEqual(alone);
    }
  });
});

describe('PlainBatcher', () => {
  it('stops at the context as generate does', async () => {
    const long = tok.encode('Once upon a time '.repeat(200), { bos: true }).slice(0, 505);
    const [r] = await generateBatch(model, tok, [long], { temperature: 0, maxTokens: 50 });
    expect(r).toEqual(await generate(model, tok, long, { temperature: 0, maxTokens: 50 }));
    expect(r.stopReason).toBe('context');
    expect(long.length + r.ids.length).toBe(513);
  });

  it('concurrent callers share one batch', async () => {
    const batcher = await PlainBatcher.create(model, tok, { batchSize: 4 });
    const results = await Promise.all(
      PROMPTS.map((p) => batcher.generate(p, { temperature: 0, maxTokens: 12 })),
    );
    for (const [i, p] of PROMPTS.entries())
      expect(results[i]).toEqual(await generate(model, tok, p, { temperature: 0, maxTokens: 12 }));
  });

  it('rejects a bad batch size or decoder', async () => {
    await expect(PlainBatcher.create(model, tok, { batchSize: 0 })).rejects.toThrow(/batchSize = 0/);
    await expect(PlainBatcher.create(model, tok, { decoder: 'gpu' as never })).rejects.toThrow(/decoder/);
  });
});
