import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { maskedMeanNll, tokenNll } from '../../../src/model/loss.js';
import { expectClose } from '../../helpers/index.js';

describe('loss', () => {
  it('tokenNll equals −log softmax at the target (hand-computed)', () => {
    const logits = tf.tensor2d([
      [1, 2, 3],
      [0, 0, 0],
    ]);
    const nll = tokenNll(logits, tf.tensor1d([2, 1], 'int32'));
    const z = Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3));
    expectClose(nll, [z - 3, Math.log(3)], 1e-6, 1e-6);
  });

  it('maskedMeanNll averages only masked tokens, and is 0 for an empty mask', () => {
    const nll = tf.tensor1d([1, 2, 3, 4]);
    expect(maskedMeanNll(nll, tf.tensor1d([1, 0, 1, 0])).dataSync()[0]).toBeCloseTo(2, 6);
    expect(maskedMeanNll(nll, tf.tensor1d([0, 0, 0, 0])).dataSync()[0]).toBe(0);
  });

  it('its gradient wrt logits is softmax − onehot (scaled by the mask mean), like the closed form', () => {
    const logits = tf.tensor2d([
      [0.5, -1, 2],
      [1, 1, 0],
    ]);
    const targets = tf.tensor1d([0, 2], 'int32');
    const mask = tf.tensor1d([1, 1]);
    const g = tf.grad((l: tf.Tensor) => maskedMeanNll(tokenNll(l as tf.Tensor2D, targets), mask))(logits);
    const expected = tf.div(tf.sub(tf.softmax(logits), tf.oneHot(targets, 3)), 2);
    expectClose(g, expected, 1e-6, 1e-5);
  });
});
