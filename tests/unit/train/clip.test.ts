import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import {
  assertFinite,
  clipByGlobalNorm,
  clipCoefficient,
  globalNorm,
  hostGlobalNorm,
  NonFiniteError,
  namedGradients,
  nonFiniteGradients,
} from '../../../src/train/clip.js';
import { expectClose, expectNoLeak } from '../../helpers/index.js';

describe('global-norm clipping', () => {
  it('computes √(Σ‖g‖²) over all gradients', async () => {
    // ‖[3, 4]‖² = 25, ‖[[12]]‖² = 144 → norm 13
    const grads = { a: tf.tensor([3, 4]), b: tf.tensor([[12]]) };
    const n = globalNorm(grads);
    expect((await n.data())[0]).toBeCloseTo(13, 6);
    tf.dispose([n, ...Object.values(grads)]);
  });

  it('scales by maxNorm/(norm + 1e-6) when above maxNorm (PyTorch clip_grad_norm_)', async () => {
    const grads = new Map([
      ['a', tf.tensor([3, 4])],
      ['b', tf.tensor([[12]])],
    ]);
    const { grads: clipped, norm } = tf.tidy(() => clipByGlobalNorm(grads, 6.5));
    const coef = 6.5 / (13 + 1e-6);
    expect((await norm.data())[0]).toBeCloseTo(13, 6);
    expectClose(clipped.a, [3 * coef, 4 * coef], 1e-6);
    expectClose(clipped.b, [12 * coef], 1e-6);
    expect(clipped.b.shape).toEqual([1, 1]);
    tf.dispose([norm, ...Object.values(clipped), ...grads.values()]);
  });

  it('on the host: the norm of concatenated gradients, and the coefficient AdamW applies', () => {
    expect(hostGlobalNorm([Float32Array.from([3, 4]), Float32Array.from([0, 12])])).toBe(13);
    expect(hostGlobalNorm([])).toBe(0);
    expect(clipCoefficient(13, 6.5)).toBe(6.5 / (13 + 1e-6));
    expect(clipCoefficient(0.5, 1)).toBe(1); // below maxNorm
    expect(clipCoefficient(13, 0)).toBe(1); // clipping off
    expect(() => clipCoefficient(1, -1)).toThrow(/maxNorm must be ≥ 0, got -1/);
  });

  it('leaves gradients below maxNorm (and with maxNorm 0) unchanged', () => {
    const g = tf.tensor([0.3, 0.4]);
    const under = tf.tidy(() => clipByGlobalNorm({ g }, 1));
    expectClose(under.grads.g, [0.3, 0.4], 1e-7);
    const off = clipByGlobalNorm({ g }, 0);
    expect(off.grads.g).toBe(g);
    expectClose(off.norm, [0.5], 1e-7);
    tf.dispose([g, under.norm, ...Object.values(under.grads), off.norm]);
  });

  it('returns norm 0 for no gradients and rejects a negative maxNorm', () => {
    const { norm } = clipByGlobalNorm(new Map(), 1);
    expectClose(norm, [0], 0);
    norm.dispose();
    expect(() => clipByGlobalNorm(new Map(), -1)).toThrow(/maxNorm must be ≥ 0, got -1/);
  });

  it('leaks nothing inside a tidy', async () => {
    const g = tf.randomNormal([4, 4]);
    await expectNoLeak(() => tf.tidy(() => clipByGlobalNorm({ g }, 0.1).norm.dispose()));
    g.dispose();
  });
});

describe('named gradients', () => {
  it('keys tf.variableGrads results by dotted name and skips unused variables', () => {
    const w = tf.variable(tf.tensor([1, 2]), true);
    const unused = tf.variable(tf.tensor([5]), true);
    const vars = new Map([
      ['blocks.0.w', w],
      ['blocks.0.unused', unused],
    ]);
    const { value, grads } = namedGradients(() => tf.sum(tf.square(w)) as tf.Scalar, vars);
    expect(Object.keys(grads)).toEqual(['blocks.0.w']);
    expectClose(grads['blocks.0.w'], [2, 4], 1e-6);
    expectClose(value, [5], 1e-6);
    tf.dispose([value, ...Object.values(grads), w, unused]);
  });
});

describe('non-finite detection', () => {
  it('names the gradients holding NaN or Inf, not large finite ones', async () => {
    const grads = new Map([
      ['ok', tf.tensor([1e30, -1e30])], // squares overflow float32, but the values are finite
      ['nan', tf.tensor([1, Number.NaN])],
      ['inf', tf.tensor([Number.NEGATIVE_INFINITY])],
    ]);
    expect(await nonFiniteGradients(grads)).toEqual(['nan', 'inf']);
    expect(await nonFiniteGradients(new Map())).toEqual([]);
    tf.dispose([...grads.values()]);
  });

  it('throws NonFiniteError with what, value and step', () => {
    expect(() => assertFinite('loss', 1.5, 3)).not.toThrow();
    expect(() => assertFinite('loss', Number.NaN, 7)).toThrow(NonFiniteError);
    expect(() => assertFinite('grad norm', Number.POSITIVE_INFINITY, 7)).toThrow(
      /grad norm is Infinity at step 7/,
    );
    expect(new NonFiniteError('loss', Number.NaN, 2, ['a.weight']).message).toBe(
      'loss is NaN at step 2; non-finite gradients in a.weight',
    );
  });
});
