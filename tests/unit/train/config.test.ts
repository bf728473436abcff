import { describe, expect, it } from 'vitest';
import { accumulationSteps, DEFAULT_TRAIN_CONFIG, resolveTrainConfig } from '../../../src/train/config.js';
import { ConfigError } from '../../../src/util/errors.js';

describe('resolveTrainConfig', () => {
  it('returns the documented defaults (paper: 3 epochs, lr 2e-5, batch 16)', () => {
    const c = resolveTrainConfig();
    expect(c).toEqual(DEFAULT_TRAIN_CONFIG);
    expect(c).toMatchObject({
      epochs: 3,
      learningRate: 2e-5,
      batchSize: 16,
      microBatchSize: 16,
      workers: 'auto',
    });
    expect(Object.isFrozen(c)).toBe(true);
    expect(accumulationSteps(c)).toBe(1);
  });

  it('defaults microBatchSize to batchSize and counts accumulation steps', () => {
    expect(resolveTrainConfig({ batchSize: 8 }).microBatchSize).toBe(8);
    const c = resolveTrainConfig({ batchSize: 32, microBatchSize: 4 });
    expect(accumulationSteps(c)).toBe(8);
  });

  it('keeps given values, is JSON-serialisable, and ignores undefined', () => {
    const c = resolveTrainConfig({
      schedule: 'linear',
      betas: [0.9, 0.95],
      seed: 'run-1',
      clipNorm: 0,
      epochs: undefined,
    });
    expect(c.schedule).toBe('linear');
    expect(c.epochs).toBe(3);
    expect(JSON.parse(JSON.stringify(c))).toEqual(c);
  });

  it.each([
    [{ epochs: 0 }, /epochs = 0; expected an integer ≥ 1/],
    [{ epochs: '3' }, /epochs = "3"; expected an integer ≥ 1/],
    [{ learningRate: -1 }, /learningRate = -1; expected a number > 0/],
    [{ learningRate: Number.NaN }, /learningRate = null; expected a number > 0/],
    [
      { batchSize: 16, microBatchSize: 5 },
      /microBatchSize = 5; expected an integer ≥ 1 that divides batchSize \(16\)/,
    ],
    [{ betas: [0.9] }, /betas = \[0.9\]; expected two numbers/],
    [{ betas: [0.9, 1] }, /betas = \[0.9,1\]/],
    [{ eps: 0 }, /eps = 0; expected a number > 0/],
    [{ weightDecay: -0.1 }, /weightDecay = -0.1/],
    [{ warmupSteps: 2.5 }, /warmupSteps = 2.5/],
    [{ schedule: 'step' }, /schedule = "step"; expected one of cosine, constant, linear/],
    [{ minLrRatio: 2 }, /minLrRatio = 2; expected a number in \[0, 1\]/],
    [{ clipNorm: -1 }, /clipNorm = -1/],
    [{ evalEvery: -5 }, /evalEvery = -5/],
    [{ saveEvery: true }, /saveEvery = true/],
    [{ keepLast: 0 }, /keepLast = 0; expected an integer ≥ 1/],
    [{ stepSkipProb: 1.5 }, /stepSkipProb = 1.5; expected a number in \[0, 1\]/],
    [{ seed: '' }, /seed = ""; expected a number or a non-empty string/],
    [{ workers: 0 }, /workers = 0; expected an integer ≥ 1, or 'auto'/],
    [{ workers: 'two' }, /workers = "two"; expected an integer ≥ 1, or 'auto'/],
    [{ workers: 1.5 }, /workers = 1.5/],
    [{ lr: 0.1 }, /lr = 0.1; expected a known key \(epochs, learningRate/],
  ])('rejects %o', (partial, message) => {
    expect(() => resolveTrainConfig(partial as never)).toThrow(ConfigError);
    expect(() => resolveTrainConfig(partial as never)).toThrow(message);
  });

  it('rejects a non-object', () => {
    expect(() => resolveTrainConfig([] as never)).toThrow(/trainConfig = \[\]; expected an object/);
  });
});
