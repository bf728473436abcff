// BLEU and Self-BLEU against hand-computed values and NLTK's documented example.
import { describe, expect, it } from 'vitest';
import { bleuTokens, selfBleu, sentenceBleu } from '../../../src/aligncot/bleu.js';

const w = (s: string) => s.split(' ');
const none = { smoothing: 'none' } as const;

describe('sentenceBleu', () => {
  it('is the geometric mean of clipped n-gram precisions', () => {
    // p1 = 4/5, p2 = 3/4, p3 = 2/3, p4 = 1/2; same length, BP = 1
    expect(sentenceBleu([w('a b c d f')], w('a b c d e'), none)).toBeCloseTo(
      (((((((4 / 5) * 3) / 4) * 2) / 3) * 1) / 2) ** 0.25,
      12,
    );
  });

  it('clips counts by the reference (Papineni et al.)', () => {
    // "the" ×7 against a reference with "the" ×2: p1 = 2/7; c = 7 > r = 6, BP = 1
    expect(
      sentenceBleu([w('the cat is on the mat')], w('the the the the the the the'), { maxN: 1 }),
    ).toBeCloseTo(2 / 7, 12);
  });

  it('applies the brevity penalty exp(1 − r/c)', () => {
    expect(sentenceBleu([w('a b c d e f')], w('a b c d'))).toBeCloseTo(Math.exp(1 - 6 / 4), 12);
  });

  it('takes the closest reference length, the shorter on a tie', () => {
    // c = 5, references of 4 and 6: r = 4, so no penalty; every n-gram is in one reference or the other
    expect(sentenceBleu([w('a b c d'), w('a b c d e x')], w('a b c d e'))).toBeCloseTo(1, 12);
  });

  it('is 0 without smoothing when a precision is 0, and ε-smoothed otherwise (NLTK method1)', () => {
    const ref = [w('the cat is on the mat')];
    const hyp = w('the cat sat on the mat');
    // p1 = 5/6, p2 = 3/5, p3 = 1/4, p4 = 0/3
    expect(sentenceBleu(ref, hyp, none)).toBe(0);
    expect(sentenceBleu(ref, hyp)).toBeCloseTo(((((((5 / 6) * 3) / 5) * 1) / 4) * (0.1 / 3)) ** 0.25, 12);
    expect(sentenceBleu(ref, hyp, { epsilon: 0.01 })).toBeCloseTo(
      ((((((5 / 6) * 3) / 5) * 1) / 4) * (0.01 / 3)) ** 0.25,
      12,
    );
  });

  it('is 0 with no unigram match, and for an empty hypothesis', () => {
    expect(sentenceBleu([w('a b c')], w('x y z'))).toBe(0);
    expect(sentenceBleu([w('a b c')], [])).toBe(0);
  });

  it("matches NLTK's sentence_bleu docstring example (0.5045666840058485)", () => {
    const hyp = w(
      'It is a guide to action which ensures that the military always obeys the commands of the party',
    );
    const refs = [
      w('It is a guide to action that ensures that the military will forever heed Party commands'),
      w(
        'It is the guiding principle which guarantees the military forces always being under the command of the Party',
      ),
      w('It is the practical guide for the army always to heed the directions of the party'),
    ];
    expect(sentenceBleu(refs, hyp, none)).toBeCloseTo(0.5045666840058485, 12);
  });
});

describe('selfBleu', () => {
  it('averages each text against the others', () => {
    // texts 0 and 1 are identical (BLEU 1 each), text 2 shares no word (BLEU 0)
    expect(selfBleu([w('a b c d'), w('a b c d'), w('w x y z')])).toBeCloseTo(2 / 3, 12);
    expect(selfBleu([w('a b c d e'), w('a b c d f')], none)).toBeCloseTo(
      (((((((4 / 5) * 3) / 4) * 2) / 3) * 1) / 2) ** 0.25,
      12,
    );
  });

  it('needs two texts', () => {
    expect(() => selfBleu([w('a')])).toThrow('expected at least 2 texts, got 1');
  });
});

describe('bleuTokens', () => {
  it('lower-cases and splits words from punctuation', () => {
    expect(bleuTokens("Don't panic, OK? Ça va.")).toEqual([
      'don',
      "'",
      't',
      'panic',
      ',',
      'ok',
      '?',
      'ça',
      'va',
      '.',
    ]);
  });
});
