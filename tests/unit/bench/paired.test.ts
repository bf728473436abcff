// Paired rounds (src/bench/paired.ts) on injected variants: every variant once per round, the order reversed every
// other round, warm-up rounds not recorded; spreads and per-round ratios against hand-computed values.
import { describe, expect, it } from 'vitest';
import { pairedRounds, quietest, rateSpread, ratioSpread, spread } from '../../../src/bench/paired.js';

describe('pairedRounds', () => {
  it('interleaves the variants, reversing the order every other round, and drops the warm-up', async () => {
    const calls: string[] = [];
    let t = 0;
    const variant = (name: string, rates: number[]) => ({
      name,
      run: async () => {
        calls.push(name);
        return rates[t++ % rates.length];
      },
    });
    const p = await pairedRounds([variant('a', [1, 2, 3, 4, 5, 6, 7, 8]), variant('b', [1])], 3, 1);
    expect(calls).toEqual(['a', 'b', 'b', 'a', 'a', 'b', 'b', 'a']);
    // the counter t runs over both variants' calls: a got t = 0 (warm-up), 3, 4, 7 → rates 4, 5, 8
    expect(p.rates.a).toEqual([4, 5, 8]);
    expect(p.rates.b).toEqual([1, 1, 1]);
    expect(p.roundMs).toHaveLength(3);
  });
});

describe('spreads', () => {
  const p = { rates: { x: [10, 30, 20], y: [5, 10, 4] }, roundMs: [3, 1, 2] };

  it('the quietest round is the one that took the least wall time', () => {
    expect(quietest(p)).toBe(1);
  });

  it('range, median and the quietest round of a rate and of a per-round ratio', () => {
    expect(rateSpread(p, 'x')).toEqual({ min: 10, median: 20, max: 30, quietest: 30 });
    // ratios per round: 2, 3, 5
    expect(ratioSpread(p, 'x', 'y')).toEqual({ min: 2, median: 3, max: 5, quietest: 3 });
    expect(spread([0.12345], 0, 2)).toEqual({ min: 0.12, median: 0.12, max: 0.12, quietest: 0.12 });
  });
});
