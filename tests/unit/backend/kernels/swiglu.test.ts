// The fused SwiGLU op on wasm (swiglu.ts, backend/simd/swiglu.wat): forward and backward against the float64
// formulas over a wide range of g, at sizes with and without a tail of n mod 4 (and n < 4, which takes the composed
// backward), through tfjs's backprop (one tidy per gradient) and the trainer's (one tidy per node), with no leak.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { swiglu } from '../../../../src/backend/kernels/swiglu.js';
import { leanGradients } from '../../../../src/train/backprop.js';
import { onBackend, seededNormal } from '../../../helpers/index.js';

/** g spread over [−95, 95] (e^−g under- and overflows at the ends), u and dy seeded. */
function inputs(n: number) {
  const g = tf.tensor1d(
    Float32Array.from({ length: n }, (_, i) => (n === 1 ? 0.5 : -95 + (190 * i) / (n - 1))),
  );
  return { g, u: seededNormal([n], `u${n}`), dy: seededNormal([n], `dy${n}`) };
}

/** |got − want| within `rel` of each term's size (dg is a difference of terms that may cancel). */
function expectFormulas(
  g: Float32Array,
  u: Float32Array,
  dy: Float32Array,
  y: Float32Array,
  dg: Float32Array,
  du: Float32Array,
) {
  for (let i = 0; i < g.length; i++) {
    const s = 1 / (1 + Math.exp(-g[i]));
    const silu = g[i] * s;
    const scale = Math.abs(dy[i] * u[i]) * (s + Math.abs(silu) * (1 - s));
    expect(Math.abs(y[i] - silu * u[i]), `y[${i}], g ${g[i]}`).toBeLessThanOrEqual(
      1e-6 * Math.abs(silu * u[i]) + 1e-30,
    );
    expect(Math.abs(du[i] - dy[i] * silu), `du[${i}]`).toBeLessThanOrEqual(
      1e-6 * Math.abs(dy[i] * silu) + 1e-30,
    );
    expect(Math.abs(dg[i] - dy[i] * u[i] * (s + silu * (1 - s))), `dg[${i}]`).toBeLessThanOrEqual(
      2e-6 * scale + 1e-30,
    );
  }
}

describe('fused SwiGLU on wasm', () => {
  it.each([203, 256, 4, 3, 1])('forward and backward match the float64 formulas, n = %i', async (n) => {
    await onBackend('wasm', () => {
      const { g, u, dy } = inputs(n);
      const before = tf.memory().numTensors;
      const y = swiglu(g, u);
      const [dg, du] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(swiglu(a, b), dy)))([g, u]);
      const v = (t: tf.Tensor) => t.dataSync() as Float32Array;
      expectFormulas(v(g), v(u), v(dy), v(y), v(dg), v(du));
      tf.dispose([y, dg, du]);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([g, u, dy]);
    });
  });

  it("the trainer's backprop gets both gradients from one pass, equal to tfjs's, and leaks nothing", async () => {
    await onBackend('wasm', async () => {
      const g = tf.variable(seededNormal([16, 12], 'g', 3));
      const u = tf.variable(seededNormal([16, 12], 'u'));
      const probe = seededNormal([16, 12], 'probe');
      const f = () => tf.sum(tf.mul(swiglu(g, u), probe)) as tf.Scalar;
      const theirs = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(swiglu(a, b), probe)))([g, u]);
      const before = tf.memory().numTensors;
      let out: ReturnType<typeof leanGradients> | undefined;
      const profile = await tf.profile(() => {
        out = leanGradients(f, [g, u]);
      });
      const { value, grads } = out!;
      expect(profile.kernels.filter((k) => k.name === 'MoteSwiGluGrad')).toHaveLength(1);
      expect(tf.memory().numTensors).toBe(before + 3); // the value and two gradients
      for (let i = 0; i < 2; i++)
        expect(Array.from(grads[i]!.dataSync())).toEqual(Array.from(theirs[i].dataSync()));
      tf.dispose([value, ...grads.map((t) => t!), ...theirs, g, u, probe]);
    });
  });

  it('refuses a gate and an up projection of different shapes', () => {
    expect(() => swiglu(tf.zeros([2, 3]), tf.zeros([3, 2]))).toThrow(
      /gate and up differ in shape, \[2,3\] and \[3,2\]/,
    );
  });
});
