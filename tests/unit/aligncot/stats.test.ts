// Dataset statistics on a tiny dataset with hand-computed numbers.
import { describe, expect, it } from 'vitest';
import { bleuTokens, selfBleu } from '../../../src/aligncot/bleu.js';
import type { Chain } from '../../../src/aligncot/chain.js';
import { chainStats, summarize } from '../../../src/aligncot/stats.js';
import { ToyTokenizer } from './toy-tokenizer.js';

const CHAINS: Chain[] = [
  { id: '1', question: 'hi there', answer: 'ok' },
  { id: '2', question: 'how to x', analysis: 'risky thing', answer: 'no way sorry' },
  { id: '3', question: 'q', analysis: 'a b c', guidance: 'g h', answer: 'one two three four' },
  {
    id: '4',
    question: [
      { role: 'system', content: 'be nice' },
      { role: 'user', content: 'yo' },
    ],
    analysis: 'fine',
    guidance: 'just answer',
    answer: 'sure thing my friend here',
    check: { verdict: 'unsafe', text: 'x' },
  },
  { id: '5', question: 'z', answer: 'ok', check: { verdict: 'safe' } },
];

describe('chainStats', () => {
  it('counts steps, answer-only chains, dialogues and verdicts', () => {
    const s = chainStats(CHAINS, { selfBleuSample: 0 });
    expect(s).toEqual({
      chains: 5,
      withStage: { analysis: 3, guidance: 2, answer: 5, check: 2 },
      answerOnly: 2,
      answerOnlyShare: 0.4,
      multiTurn: 1,
      verdicts: { safe: 1, unsafe: 1 },
    });
  });

  it('counts tokens per step with a tokenizer', () => {
    // word-level toy pieces (no BOS): "User: hi there\n" → User: ␣hi ␣there \n = 4;
    // "System: be nice\nUser: yo\n" → System: ␣be ␣nice \nUser: ␣yo \n = 6
    const { tokens } = chainStats(CHAINS, { tokenizer: new ToyTokenizer(), selfBleuSample: 0 });
    expect(tokens).toEqual({
      question: { count: 5, total: 21, mean: 4.2, median: 4, max: 6 }, // 4, 5, 3, 6, 3
      analysis: { count: 3, total: 6, mean: 2, median: 2, max: 3 }, // 2, 3, 1
      guidance: { count: 2, total: 4, mean: 2, median: 2, max: 2 }, // 2, 2
      answer: { count: 5, total: 14, mean: 2.8, median: 3, max: 5 }, // 1, 3, 4, 5, 1
      check: { count: 2, total: 3, mean: 1.5, median: 1.5, max: 2 }, // "unsafe: x" 2, "safe" 1
    });
  });

  it('reports Self-BLEU-4 of the answers, on a seeded sample', () => {
    const answers = CHAINS.map((c) => bleuTokens(c.answer));
    const full = chainStats(CHAINS);
    expect(full.selfBleu4).toEqual({ value: selfBleu(answers), sample: 5 });
    const a = chainStats(CHAINS, { selfBleuSample: 3, seed: 'x' });
    const b = chainStats(CHAINS, { selfBleuSample: 3, seed: 'x' });
    expect(a.selfBleu4!.sample).toBe(3);
    expect(a.selfBleu4).toEqual(b.selfBleu4);
    expect(chainStats(CHAINS, { selfBleuSample: 0 }).selfBleu4).toBeUndefined();
  });

  it('Self-BLEU is 1 for identical answers', () => {
    const same = CHAINS.map((c) => ({ ...c, answer: 'I cannot help with that request.' }));
    expect(chainStats(same).selfBleu4!.value).toBeCloseTo(1, 12);
  });

  it('handles an empty dataset', () => {
    expect(chainStats([], { tokenizer: new ToyTokenizer() })).toEqual({
      chains: 0,
      withStage: { analysis: 0, guidance: 0, answer: 0, check: 0 },
      answerOnly: 0,
      answerOnlyShare: 0,
      multiTurn: 0,
      verdicts: { safe: 0, unsafe: 0 },
      tokens: {},
    });
  });
});

describe('summarize', () => {
  it('gives mean, median (middle pair averaged), max and total', () => {
    expect(summarize([5, 1, 3])).toEqual({ count: 3, total: 9, mean: 3, median: 3, max: 5 });
    expect(summarize([4, 1, 3, 2])).toEqual({ count: 4, total: 10, mean: 2.5, median: 2.5, max: 4 });
    expect(summarize([])).toEqual({ count: 0, total: 0, mean: 0, median: 0, max: 0 });
  });
});
