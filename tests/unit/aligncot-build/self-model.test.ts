// The project's own model as the generator (self-alignment in the strict sense): a seeded tiny-test
// Transformer with the real tok512 tokenizer. Its text is gibberish, so the check verdicts go unparsed and
// count as unsafe (the documented default); the chains must still be schema-valid and reproducible.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildChains, chatPrompt, createModelGenerator } from '../../../src/aligncot/build/index.js';
import { resolveModelConfig } from '../../../src/model/config.js';
import { Transformer } from '../../../src/model/transformer.js';
import { loadLlama2cTokenizer } from '../../../src/tokenizer/llama2c-tokenizer-node.js';
import type { Tokenizer } from '../../../src/tokenizer/tokenizer.js';
import { TOK512_BIN } from '../../helpers/index.js';
import { readChains, tempDir } from './helpers.js';

let model: Transformer;
let tokenizer: Tokenizer;
beforeAll(async () => {
  model = Transformer.init(resolveModelConfig({ vocabSize: 512, maxSeqLen: 128 }, 'tiny-test'), 3);
  tokenizer = await loadLlama2cTokenizer(TOK512_BIN, 512);
});
afterAll(() => model.dispose());

const prompts = [
  { id: 'p0', question: 'How do I bake bread?', source: { file: 't', line: 1 } },
  {
    id: 'p1',
    question: [
      { role: 'user' as const, content: 'Tell me a story.' },
      { role: 'assistant' as const, content: 'About what?' },
      { role: 'user' as const, content: 'A dog.' },
    ],
    source: { file: 't', line: 2 },
  },
];

describe('own model as the generator', () => {
  it('renders a chat as role lines with an Assistant cue', () => {
    expect(chatPrompt([{ role: 'user', content: 'Hi' }])).toBe('User: Hi\nAssistant:');
  });

  it('builds schema-valid chains; unparsed verdicts count as unsafe, so every chain runs to the guidance', async () => {
    const generator = createModelGenerator(model, tokenizer, {
      name: 'self:tiny',
      generate: { maxTokens: 12 },
    });
    const run = async () => {
      const out = join(await tempDir(), 'chains.jsonl');
      const report = await buildChains({
        prompts,
        out,
        generator,
        onFail: 'keep',
        concurrency: 2,
        stats: { tokenizer },
      });
      return { report, chains: await readChains(out) };
    };
    const { report, chains } = await run();
    expect(chains.map((c) => c.id).sort()).toEqual(['p0', 'p1']);
    expect(report.checks).toEqual({ safe: 0, unsafe: 0, unparsed: 6 });
    expect(report.outcomes['kept-unsafe']).toBe(2);
    for (const c of chains) {
      expect(typeof c.analysis === 'string' && typeof c.guidance === 'string' && c.answer.length > 0).toBe(
        true,
      );
      expect(c.meta).toMatchObject({
        generator: 'self:tiny',
        verdicts: ['unparsed', 'unparsed', 'unparsed'],
        unparsedAs: 'unsafe',
      });
    }
    expect(report.stats?.tokens?.answer?.count).toBe(2);
    // same seed, same chains
    const again = await run();
    const strip = (cs: typeof chains) =>
      cs.map(({ meta, ...c }) => c).sort((a, b) => a.id.localeCompare(b.id));
    expect(strip(again.chains)).toEqual(strip(chains));
  });
});
