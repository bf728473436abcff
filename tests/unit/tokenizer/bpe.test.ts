// mergeByScore against run.c's rescan-everything loop, on random toy vocabularies full of score ties.
import seedrandom from 'seedrandom';
import { describe, expect, it } from 'vitest';
import { type MergeLookup, mergeByScore } from '../../../src/tokenizer/bpe.js';

/** run.c's merge loop: rescan all pairs, keep the first strictly best, merge, repeat. */
function naiveMerge(ids: readonly number[], lookup: MergeLookup, scores: ArrayLike<number>): number[] {
  const tokens = [...ids];
  for (;;) {
    let best = -1;
    let bestId = -1;
    let bestScore = Number.NEGATIVE_INFINITY;
    for (let i = 0; i + 1 < tokens.length; i++) {
      const id = lookup(tokens[i], tokens[i + 1]);
      if (id >= 0 && scores[id] > bestScore) [best, bestId, bestScore] = [i, id, scores[id]];
    }
    if (best < 0) return tokens;
    tokens.splice(best, 2, bestId);
  }
}

/** A random merge table over `v` symbols; scores take few distinct values so ties are common. */
function randomVocab(seed: string, v: number) {
  const rng = seedrandom(seed);
  const table = new Map<number, number>();
  for (let k = 0; k < v * 3; k++) {
    table.set(Math.floor(rng() * v) * v + Math.floor(rng() * v), Math.floor(rng() * v));
  }
  const scores = Array.from({ length: v }, () => Math.floor(rng() * 3));
  const lookup: MergeLookup = (l, r) => table.get(l * v + r) ?? -1;
  const sequence = (n: number) => Array.from({ length: n }, () => Math.floor(rng() * v));
  return { lookup, scores, sequence };
}

describe('mergeByScore', () => {
  it.each(['a', 'b', 'c', 'd', 'e', 'f'])('equals the naive run.c loop (seed %s)', (seed) => {
    const { lookup, scores, sequence } = randomVocab(seed, 6);
    for (const n of [0, 1, 2, 3, 5, 8, 13, 40, 200]) {
      const ids = sequence(n);
      expect(mergeByScore(ids, lookup, scores)).toEqual(naiveMerge(ids, lookup, scores));
    }
  });

  it('takes the leftmost pair on equal scores', () => {
    // 0 0 0 → (0 0) can merge at 0 or 1; the leftmost wins: [1, 0]
    const lookup: MergeLookup = (l, r) => (l === 0 && r === 0 ? 1 : -1);
    expect(mergeByScore([0, 0, 0], lookup, [0, 5])).toEqual([1, 0]);
  });

  it('prefers a higher score to the right over a lower one to the left', () => {
    // pairs: (0,1)→3 score 1, (1,2)→4 score 2
    const lookup: MergeLookup = (l, r) => (l === 0 && r === 1 ? 3 : l === 1 && r === 2 ? 4 : -1);
    expect(mergeByScore([0, 1, 2], lookup, [0, 0, 0, 1, 2])).toEqual([0, 4]);
  });
});
