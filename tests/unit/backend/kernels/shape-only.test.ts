// Ops that save nothing for the backward (shape-only.ts) and the fused SwiGLU gate (swiglu.ts): values and
// gradients equal the tf ops they replace (cpu and wasm), and the tape keeps fewer tensors alive.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { addSame, biasAdd, reshapeView } from '../../../../src/backend/kernels/shape-only.js';
import { swiglu, swigluComposed } from '../../../../src/backend/kernels/swiglu.js';
import { expectClose, onBackend, seededNormal } from '../../../helpers/index.js';

/** Value and gradients of Σ probe·f(inputs). */
function run(f: (...xs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[], probe: tf.Tensor) {
  const value = tf.tidy(() => f(...inputs));
  const grads = tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(f(...xs), probe)))(inputs);
  const out = [value, ...grads].map((t) => Array.from(t.dataSync()));
  tf.dispose([value, ...grads]);
  return out;
}

/** Live tensors left by the forward of Σ f(inputs) under a gradient tape, before its backward runs. */
function heldByTape(f: (...xs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[]): number {
  let held = 0;
  const probe = tf.customGrad((x) => ({
    value: tf.clone(x as tf.Tensor),
    gradFunc: (dy: tf.Tensor) => {
      held = tf.memory().numTensors;
      return tf.clone(dy);
    },
  }));
  const before = tf.memory().numTensors;
  const grads = tf.grads((...xs: tf.Tensor[]) => tf.sum(f(...xs.map((x) => probe(x) as tf.Tensor))))(inputs);
  tf.dispose(grads);
  return held - before;
}

describe('ops that save nothing for the backward', () => {
  it.each(['cpu', 'wasm'])(
    'reshapeView, addSame, biasAdd and swiglu equal their tf ops on %s',
    async (backend) => {
      await onBackend(backend, () => {
        const a = seededNormal([6, 8], 'a');
        const b = seededNormal([6, 8], 'b');
        const bias = seededNormal([8], 'bias');
        const cases: [
          (...xs: tf.Tensor[]) => tf.Tensor,
          (...xs: tf.Tensor[]) => tf.Tensor,
          tf.Tensor[],
          number[],
        ][] = [
          [(x) => reshapeView(x, [2, -1, 4]), (x) => tf.reshape(x, [2, -1, 4]), [a], [2, 6, 4]],
          [(x, y) => addSame(x, y), (x, y) => tf.add(x, y), [a, b], [6, 8]],
          [(x, c) => biasAdd(x as tf.Tensor2D, c as tf.Tensor1D), (x, c) => tf.add(x, c), [a, bias], [6, 8]],
          [(g, u) => swiglu(g, u), (g, u) => swigluComposed(g, u), [a, b], [6, 8]],
        ];
        for (const [ours, theirs, inputs, shape] of cases) {
          const probe = seededNormal(shape, `p${shape}`);
          const got = run(ours, inputs, probe);
          const want = run(theirs, inputs, probe);
          for (let i = 0; i < want.length; i++) expectClose(got[i], want[i], 1e-6, 1e-5);
          probe.dispose();
        }
        tf.dispose([a, b, bias]);
      });
    },
  );

  it('the tape holds fewer tensors than with the tf ops (the inputs of reshape and add, σ(g) and silu(g))', () => {
    const a = seededNormal([6, 8], 'ta');
    const b = seededNormal([6, 8], 'tb');
    const chain =
      (
        reshape: (x: tf.Tensor, shape: number[]) => tf.Tensor,
        add: (x: tf.Tensor, y: tf.Tensor) => tf.Tensor,
      ) =>
      (x: tf.Tensor, y: tf.Tensor) =>
        reshape(add(tf.exp(x), tf.exp(y)), [48]);
    const ours = heldByTape(
      chain((x, s) => reshapeView(x, s), addSame),
      [a, b],
    );
    const theirs = heldByTape(
      chain((x, s) => tf.reshape(x, s), tf.add),
      [a, b],
    );
    expect(ours).toBeLessThan(theirs);
    expect(heldByTape((g, u) => swiglu(g, u), [a, b])).toBeLessThan(heldByTape(swigluComposed, [a, b]));
    tf.dispose([a, b]);
  });
});
