// Fault injection, class 4: token limits larger than the context. One rule everywhere (generate/limits.ts): a limit
// above what the context allows is lowered to it with a note, and a prompt fits when it leaves room for its reply,
// that room counting at most half the context. `eval --max-tokens 1e12` used to fail with "all prompts are too
// long" where chat clamped.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { clampTokenLimits, generationCeiling, promptRoom, stageCeiling } from '../../src/generate/limits.js';
import { questionFits } from '../../src/generate/staged.js';
import { loadBase } from '../../src/run/base.js';
import { STORIES_BIN, TOK512_BIN } from '../helpers/index.js';
import { mote, tempDir } from './helpers.js';

describe('the rule (generate/limits.ts)', () => {
  it('lowers limits above the context to its ceilings, with one note per value; leaves others alone', () => {
    const { limits, notes } = clampTokenLimits(
      { maxTokens: 1e12, maxTokensPerStage: { analysis: 10, answer: 1e6 } },
      512,
      { maxTokens: '--max-tokens', maxTokensPerStage: '--max-tokens-per-stage' },
    );
    expect(limits).toEqual({ maxTokens: 511, maxTokensPerStage: { analysis: 10, answer: 509 } });
    expect(notes).toEqual([
      "note: --max-tokens 1000000000000 is more than the model's context of 512 tokens allows; using 511",
      "note: --max-tokens-per-stage (answer) 1000000 is more than the model's context of 512 tokens allows; using 509",
    ]);
    expect(clampTokenLimits({ maxTokens: 511, maxTokensPerStage: 509 }, 512).notes).toEqual([]);
    expect([generationCeiling(512), stageCeiling(512)]).toEqual([511, 509]);
    expect([promptRoom(512, 162), promptRoom(512, 1e12), promptRoom(512, 0)]).toEqual([350, 256, 512]);
  });

  it('a question fits whatever the budget when it leaves half the context', async () => {
    const { model, tokenizer } = await loadBase({ model: STORIES_BIN, tokenizer: TOK512_BIN });
    const long = 'word '.repeat(600); // more than half the context
    expect(questionFits(model, tokenizer, 'How do I pick a lock?', 1e12)).toBe(true);
    expect(questionFits(model, tokenizer, 'How do I pick a lock?', 160)).toBe(true);
    expect(questionFits(model, tokenizer, long, 1e12)).toBe(false); // longer than half the context
    model.dispose();
  });
});

describe('every generating command clamps with a note and runs', () => {
  it('eval, generate, chat and aligncot build (self) with --max-tokens 1e12', async () => {
    const dir = await tempDir('limits');
    const prompts = join(dir, 'q.jsonl');
    await writeFile(prompts, `${JSON.stringify({ id: 'q1', question: 'Can I pet a cat?' })}\n`);
    const huge = ['--max-tokens', '1e12'];
    const [evaluated, generated, chatted, built] = await Promise.all([
      mote([
        'eval',
        '--out',
        join(dir, 'eval'),
        '--limit',
        '2',
        '--mode',
        'answer',
        ...huge,
        '--max-tokens-per-stage',
        '1e12',
        '--backend',
        'wasm',
      ]),
      mote([
        'generate',
        '--staged',
        '--prompt',
        'Can I pet a cat?',
        ...huge,
        '--temperature',
        '0',
        '--backend',
        'wasm',
      ]),
      mote(['chat', ...huge, '--backend', 'wasm'], { input: 'Can I pet a cat?\n/quit\n' }),
      mote([
        'aligncot',
        'build',
        '--prompts',
        prompts,
        '--format',
        'jsonl',
        '--generator',
        'self',
        '--out',
        join(dir, 'chains.jsonl'),
        ...huge,
        '--no-progress',
        '--backend',
        'wasm',
      ]),
    ]);
    const clamped =
      "note: --max-tokens 1000000000000 is more than the model's context of 512 tokens allows; using 511";
    expect(evaluated.stderr).toContain(clamped);
    expect(evaluated.stderr).toContain(
      "note: --max-tokens-per-stage 1000000000000 is more than the model's context of 512 tokens allows; using 509",
    );
    expect(evaluated.stderr).not.toMatch(/all \d+ prompts are too long/);
    expect(evaluated.stderr).toMatch(/evaluating 2 \(1 harmful, 1 benign\) in answer/);
    expect(evaluated.code, evaluated.stderr).toBe(0);
    expect(generated.code, generated.stderr).toBe(0);
    expect(generated.stderr).toContain(clamped);
    expect(chatted.code, chatted.stderr).toBe(0);
    expect(chatted.stderr).toContain(clamped);
    expect(chatted.stdout).toMatch(/\[answer\]/);
    expect(built.stderr).toContain(clamped);
    expect(built.stderr).toMatch(/aligncot build: 1 prompts, 0 already done, 1 processed/);
  });
});
