// Metrics on the small dataset of fixtures.ts, every figure worked out by hand.
//
// Wilson 95% intervals, (p + z²/2n ± z·√(p(1−p)/n + z²/4n²)) / (1 + z²/n) with z = 1.95996:
//   0/4 → [0, 0.4899]   1/4 → [0.0456, 0.6994]   2/4 → [0.1500, 0.8500]   3/4 → [0.3006, 0.9544]
//   (the n = 4 values agree with published tables), 5/8 → [0.3057, 0.8632], 5/6 → [0.4365, 0.9699],
//   3/4 again for harmless-on-harmful, 2/2 → [0.3424, 1].
import { describe, expect, it } from 'vitest';
import { computeRunMetrics } from '../../../src/eval/metrics.js';
import { meanStat, rate, wilsonInterval } from '../../../src/eval/stats.js';
import { ConfigError } from '../../../src/util/errors.js';
import { JUDGEMENTS, RUN } from './fixtures.js';

/** Expects a Rate with count/n and the interval to 4 decimals. */
function expectRate(
  r: { count: number; n: number; rate: number | null; ci: [number, number] | null },
  count: number,
  n: number,
  ci: [number, number],
) {
  expect([r.count, r.n]).toEqual([count, n]);
  expect(r.rate).toBeCloseTo(count / n, 12);
  expect(r.ci![0]).toBeCloseTo(ci[0], 4);
  expect(r.ci![1]).toBeCloseTo(ci[1], 4);
}

describe('wilsonInterval', () => {
  it.each([
    [0, 4, 0, 0.4899],
    [1, 4, 0.0456, 0.6994],
    [2, 4, 0.15, 0.85],
    [3, 4, 0.3006, 0.9544],
    [4, 4, 0.5101, 1],
    [5, 8, 0.3057, 0.8632],
    [1, 1, 0.2065, 1],
  ])('%i/%i → [%f, %f]', (count, n, lo, hi) => {
    const [a, b] = wilsonInterval(count, n);
    expect(a).toBeCloseTo(lo, 4);
    expect(b).toBeCloseTo(hi, 4);
  });

  it('rejects impossible counts; rate() gives nulls for n = 0', () => {
    expect(() => wilsonInterval(3, 2)).toThrow(RangeError);
    expect(() => wilsonInterval(0, 0)).toThrow(RangeError);
    expect(rate(0, 0)).toEqual({ count: 0, n: 0, rate: null, ci: null });
  });

  it('meanStat: mean and sample sd', () => {
    expect(meanStat([])).toEqual({ n: 0, mean: null, sd: null });
    expect(meanStat([4])).toEqual({ n: 1, mean: 4, sd: null });
    const s = meanStat([2, 4, 4, 4, 5, 5, 7, 9]);
    expect(s.mean).toBe(5);
    expect(s.sd).toBeCloseTo(Math.sqrt(32 / 7), 12);
  });
});

describe('computeRunMetrics on the hand-computed run', () => {
  const { metrics: m, items } = computeRunMetrics(RUN, JUDGEMENTS);

  it('labels each output', () => {
    expect(items.map((it) => [it.id, it.refusal, it.wellFormed, it.pattern])).toEqual([
      ['h1', 'full_refusal', true, 'full'],
      ['h2', 'full_refusal', true, 'analysis-answer'],
      ['h3', 'partial_refusal', true, 'answer-only'],
      ['h4', 'full_compliance', false, 'answer-only'],
      ['b1', 'full_compliance', true, 'answer-only'],
      ['b2', 'full_compliance', true, 'analysis-answer'],
      ['b3', 'full_refusal', false, 'answer-only'],
      ['b4', 'full_compliance', false, 'no-answer'],
    ]);
    expect(items[3].violations).toEqual(['unclosed', 'missing-answer']);
    expect(items[6].violations).toEqual(['text-after-answer']);
  });

  it('refusal and compliance rates with Wilson intervals', () => {
    expect(m.count).toEqual({ all: 8, harmful: 4, benign: 4 });
    expect(m.labels.harmful).toEqual({ full_compliance: 1, full_refusal: 2, partial_refusal: 1 });
    expect(m.labels.benign).toEqual({ full_compliance: 3, full_refusal: 1, partial_refusal: 0 });
    expectRate(m.refusalOnHarmful, 2, 4, [0.15, 0.85]);
    expectRate(m.partialOnHarmful, 1, 4, [0.0456, 0.6994]);
    expectRate(m.complianceOnBenign, 3, 4, [0.3006, 0.9544]);
    expectRate(m.partialOnBenign, 0, 4, [0, 0.4899]);
  });

  it('format adherence and violations', () => {
    expectRate(m.formatAdherence, 5, 8, [0.3057, 0.8632]);
    expect(m.violations).toEqual({
      'unknown-stage': 0,
      unclosed: 2,
      unopened: 0,
      'out-of-order': 0,
      duplicate: 0,
      'missing-answer': 2,
      'empty-block': 0,
      'stray-text': 0,
      'text-after-answer': 1,
    });
  });

  it('stage usage by split', () => {
    expect(m.stageUsage.all).toEqual({
      'answer-only': 4,
      'analysis-answer': 2,
      'guidance-answer': 0,
      full: 1,
      'no-answer': 1,
    });
    expect(m.stageUsage.harmful).toEqual({
      'answer-only': 2,
      'analysis-answer': 1,
      'guidance-answer': 0,
      full: 1,
      'no-answer': 0,
    });
    expect(m.stageUsage.benign).toEqual({
      'answer-only': 2,
      'analysis-answer': 1,
      'guidance-answer': 0,
      full: 0,
      'no-answer': 1,
    });
  });

  it('mean tokens per stage and per output', () => {
    const h = m.tokens.harmful;
    expect(h.analysis).toEqual({ n: 2, mean: 9, sd: Math.SQRT2 }); // 10, 8
    expect(h.guidance).toEqual({ n: 1, mean: 6, sd: null });
    expect(h.answer.mean).toBe(7.75); // (5 + 11 + 9 + 6) / 4
    expect(h.answer.sd).toBeCloseTo(2.7538, 4);
    expect(h.total.mean).toBe(17); // (27 + 23 + 11 + 7) / 4
    const b = m.tokens.benign;
    expect(b.analysis.mean).toBe(2.5); // 4, 1
    expect(b.guidance).toEqual({ n: 0, mean: null, sd: null });
    expect(b.answer.mean).toBeCloseTo(25 / 3, 12); // 7, 8, 10
    expect(b.total.mean).toBe(9.75); // (9 + 16 + 12 + 2) / 4
    expect(m.tokens.all.total.mean).toBe(13.375); // 107 / 8
  });

  it('judge figures: Harm %, Help, Harm-Help, failures', () => {
    const jm = m.judge!;
    expect(jm.judged).toBe(7);
    expect(jm.failures).toEqual({ request: 1, malformed: 1, skipped: 0 });
    expectRate(jm.harmless, 5, 6, [0.4365, 0.9699]);
    expectRate(jm.harmlessOnHarmful, 3, 4, [0.3006, 0.9544]);
    expectRate(jm.harmlessOnBenign, 2, 2, [0.3424, 1]);
    expect(jm.helpfulness.mean).toBe(5.5); // (6 + 5 + 2 + 9 + 8 + 3) / 6
    expect(jm.helpfulnessOnBenign.mean).toBeCloseTo(20 / 3, 12); // 9, 8, 3
    expect(jm.harmHelp.mean).toBeCloseTo(13 / 3, 12); // 6, 5, 2
    expect(items[7].judge).toBeNull();
    expect(items[2].judge).toEqual({
      harmless: true,
      helpfulness: null,
      failures: [{ aspect: 'helpfulness', kind: 'malformed', reason: 'no rating' }],
    });
  });

  it('no judgements → judge null; a custom classifier is used as given', () => {
    const { metrics } = computeRunMetrics(RUN, undefined, {
      refusal: () => ({ label: 'full_refusal', reason: 'test' }),
    });
    expect(metrics.judge).toBeNull();
    expectRate(metrics.refusalOnHarmful, 4, 4, [0.5101, 1]);
  });

  it('rejects repeated record ids and judgements of unknown ids', () => {
    const dup = { ...RUN, records: [...RUN.records, RUN.records[0]] };
    expect(() => computeRunMetrics(dup)).toThrow(ConfigError);
    expect(() => computeRunMetrics(dup)).toThrow('records[8].id = "h1"; expected ids unique within a run');
    expect(() => computeRunMetrics(RUN, [{ ...JUDGEMENTS[0], id: 'zz' }])).toThrow('judgements[0].id = "zz"');
  });
});
