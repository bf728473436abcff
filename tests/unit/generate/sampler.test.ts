// The sampler draws from softmax(logits / temperature), restricted to the top-k and the top-p nucleus: checked
// against the probabilities computed here from the formula, over many seeded draws, on both of its paths (the whole
// distribution drawn in id order; a sorted candidate list when top-k or top-p cut it).
import { describe, expect, it } from 'vitest';
import { createSampler } from '../../../src/generate/sampler.js';

const LOGITS = Float32Array.from([0, 1, 2, -1, Number.NEGATIVE_INFINITY, 0.5]);
const DRAWS = 40_000;

function frequencies(config: Parameters<typeof createSampler>[0]): number[] {
  const sample = createSampler(config);
  const counts = new Array(LOGITS.length).fill(0);
  for (let i = 0; i < DRAWS; i++) counts[sample(LOGITS)]++;
  return counts.map((c) => c / DRAWS);
}

function softmax(logits: ArrayLike<number>, temperature: number, keep: (i: number) => boolean): number[] {
  const e = Array.from(logits, (x, i) => (keep(i) ? Math.exp(x / temperature) : 0));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / z);
}

describe('createSampler', () => {
  it.each([0.7, 1, 1.5])('top-p 1, no top-k, temperature %s: the softmax, −∞ never drawn', (temperature) => {
    const f = frequencies({ temperature, topP: 1, topK: 0, seed: 7 });
    const p = softmax(LOGITS, temperature, () => true);
    for (let i = 0; i < p.length; i++) expect(Math.abs(f[i] - p[i])).toBeLessThan(0.01);
    expect(f[4]).toBe(0);
  });

  it('top-k 2: the two likeliest ids, renormalised', () => {
    const f = frequencies({ temperature: 1, topP: 1, topK: 2, seed: 7 });
    const p = softmax(LOGITS, 1, (i) => i === 1 || i === 2);
    for (let i = 0; i < p.length; i++) expect(Math.abs(f[i] - p[i])).toBeLessThan(0.01);
  });

  it('top-p 0.8: the shortest likeliest prefix holding 80% of the mass, renormalised', () => {
    // probabilities at temperature 1: id 2 0.563, id 1 0.207, id 5 0.126, …: ids 2 and 1 hold 0.770 < 0.8, so 5 is in
    const all = softmax(LOGITS, 1, () => true);
    expect(all[2] + all[1]).toBeLessThan(0.8);
    expect(all[2] + all[1] + all[5]).toBeGreaterThan(0.8);
    const f = frequencies({ temperature: 1, topP: 0.8, topK: 0, seed: 7 });
    const p = softmax(LOGITS, 1, (i) => i === 2 || i === 1 || i === 5);
    for (let i = 0; i < p.length; i++) expect(Math.abs(f[i] - p[i])).toBeLessThan(0.01);
  });

  it('is seeded: the same seed draws the same ids', () => {
    const a = createSampler({ temperature: 1, topP: 1, seed: 3 });
    const b = createSampler({ temperature: 1, topP: 1, seed: 3 });
    const draws = (s: (l: Float32Array) => number) => Array.from({ length: 50 }, () => s(LOGITS));
    expect(draws(a)).toEqual(draws(b));
  });
});
