// KVCache.gather: dropping sequences from a decoding batch keeps the others' decoding exact.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { resolveModelConfig } from '../../../src/model/config.js';
import { Transformer } from '../../../src/model/transformer.js';
import { expectClose } from '../../helpers/index.js';

const tiny = resolveModelConfig({}, 'tiny-test');
const ids = [
  [1, 5, 9, 3, 7, 2],
  [1, 8, 8, 6, 0, 13],
  [1, 4, 2, 12, 10, 3],
];

describe('KVCache.gather', () => {
  it('keeps the chosen rows in order: decoding them goes on exactly as in the full batch', () => {
    const model = Transformer.init(tiny, 'gather');
    const cache = model.newCache(3);
    model
      .decode(
        ids.map((r) => r.slice(0, 4)),
        cache,
      )
      .dispose();
    const kept = cache.gather([2, 0]);
    expect(kept.batchSize).toBe(2);
    expect(kept.length).toBe(4);
    expect(kept.keys[0]?.shape).toEqual([2, tiny.numKvHeads, 4, tiny.dim / tiny.numHeads]);
    const full = model.decode(
      ids.map((r) => [r[4]]),
      cache,
    ); // (3, V)
    const part = model.decode([[ids[2][4]], [ids[0][4]]], kept); // (2, V)
    expectClose(part, tf.gather(full, [2, 0]), 1e-6, 1e-6);
    const before = tf.memory().numTensors;
    kept.dispose();
    cache.dispose();
    expect(tf.memory().numTensors).toBe(before - 4 * tiny.numLayers);
    full.dispose();
    part.dispose();
    model.dispose();
  });

  it('rejects empty or out-of-range rows', () => {
    const model = Transformer.init(tiny, 'gather');
    const cache = model.newCache(2);
    expect(() => cache.gather([])).toThrow(/non-empty list of 0\.\.1/);
    expect(() => cache.gather([2])).toThrow(/rows \[2\]/);
    cache.dispose();
    model.dispose();
  });
});
