import { describe, expect, it } from 'vitest';
import { MODEL_PRESETS, resolveModelConfig } from '../../../src/model/config.js';

describe('resolveModelConfig', () => {
  it('resolves every preset', () => {
    for (const name of Object.keys(MODEL_PRESETS) as (keyof typeof MODEL_PRESETS)[]) {
      expect(resolveModelConfig({}, name)).toEqual(MODEL_PRESETS[name]);
    }
  });

  it.each([
    [{ dim: 60, numHeads: 8 }, /dim = 60; expected a multiple of numHeads \(8\)/],
    [{ numKvHeads: 3 }, /numKvHeads = 3; expected a divisor of numHeads \(8\)/],
    [{ dim: 0 }, /dim = 0; expected a positive integer/],
    [{ vocabSize: 1.5 }, /vocabSize = 1.5/],
    [{ normEps: 0 }, /normEps = 0/],
    [{ dim: 24, numHeads: 8, numKvHeads: 8 }, /head size 3/],
    [{ tiedEmbeddings: 'yes' }, /tiedEmbeddings = "yes"; expected a boolean/],
    [{ width: 3 }, /width = 3; expected a known key/],
  ])('rejects %o', (partial, message) => {
    expect(() => resolveModelConfig(partial as never)).toThrow(message);
  });

  it('rejects an unknown preset', () => {
    expect(() => resolveModelConfig({}, 'huge' as never)).toThrow(
      /preset = "huge"; expected one of stories260K/,
    );
  });
});
