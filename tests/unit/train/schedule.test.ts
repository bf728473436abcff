import { describe, expect, it } from 'vitest';
import { learningRateAt, type ScheduleOptions } from '../../../src/train/schedule.js';

const base: ScheduleOptions = {
  learningRate: 1e-3,
  warmupSteps: 4,
  totalSteps: 14,
  schedule: 'cosine',
  minLrRatio: 0.1,
};

describe('learningRateAt', () => {
  it('warms up linearly as nanoGPT get_lr: lr·(it + 1)/(warmup + 1)', () => {
    expect(learningRateAt(0, base)).toBeCloseTo(1e-3 / 5, 15);
    expect(learningRateAt(3, base)).toBeCloseTo((1e-3 * 4) / 5, 15);
    expect(learningRateAt(4, base)).toBeCloseTo(1e-3, 15); // decay ratio 0: the peak
  });

  it('decays on a cosine to minLr at totalSteps and stays there', () => {
    // it = 9: ratio (9 − 4)/10 = 0.5 → coeff 0.5 → 1e-4 + 0.5·9e-4
    expect(learningRateAt(9, base)).toBeCloseTo(5.5e-4, 15);
    // it = 6: ratio 0.2 → coeff ½(1 + cos 0.2π)
    expect(learningRateAt(6, base)).toBeCloseTo(1e-4 + 0.5 * (1 + Math.cos(0.2 * Math.PI)) * 9e-4, 15);
    expect(learningRateAt(13, base)).toBeGreaterThan(1e-4);
    expect(learningRateAt(14, base)).toBeCloseTo(1e-4, 15);
    expect(learningRateAt(1000, base)).toBeCloseTo(1e-4, 15);
  });

  it('decays linearly', () => {
    const o = { ...base, schedule: 'linear' as const };
    expect(learningRateAt(4, o)).toBeCloseTo(1e-3, 15);
    expect(learningRateAt(9, o)).toBeCloseTo(5.5e-4, 15);
    expect(learningRateAt(11, o)).toBeCloseTo(1e-4 + 0.3 * 9e-4, 15);
    expect(learningRateAt(14, o)).toBeCloseTo(1e-4, 15);
  });

  it('stays constant after warm-up', () => {
    const o = { ...base, schedule: 'constant' as const };
    expect(learningRateAt(1, o)).toBeCloseTo(2 * 2e-4, 15);
    for (const it of [4, 9, 14, 100]) expect(learningRateAt(it, o)).toBe(1e-3);
  });

  it('starts at the peak without warm-up, and falls to minLr when no decay window is left', () => {
    expect(learningRateAt(0, { ...base, warmupSteps: 0 })).toBe(1e-3);
    expect(learningRateAt(4, { ...base, totalSteps: 4 })).toBeCloseTo(1e-4, 15);
    expect(learningRateAt(2, { ...base, totalSteps: 2 })).toBeCloseTo(3e-3 / 5, 15); // still warming up
  });

  it('rejects a bad step', () => {
    expect(() => learningRateAt(-1, base)).toThrow(/step must be an integer ≥ 0, got -1/);
    expect(() => learningRateAt(1.5, base)).toThrow(/got 1.5/);
  });
});
