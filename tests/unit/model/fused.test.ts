// The fused model ops (src/model/fused/) equal the composed tf ops they replace, forward and gradient, on wasm and
// cpu (where their JS kernels run): RMSNorm, RoPE + head split, masked attention softmax, token NLL. The gradients
// of the composed forms come from tfjs's autodiff, so they are the reference; the RoPE backward is also checked
// against central finite differences.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { causalMask, MASKED } from '../../../src/model/attention.js';
import { maskedSoftmax, maskedSoftmaxComposed } from '../../../src/model/fused/masked-softmax.js';
import { rmsNorm, rmsNormComposed } from '../../../src/model/fused/rms-norm.js';
import { tokenNllComposed, tokenNllFused } from '../../../src/model/fused/token-nll.js';
import { Rope } from '../../../src/model/rope.js';
import { expectNoLeak, maxAbsDiff, onBackend, seededNormal } from '../../helpers/index.js';

/** Value and gradients (for every input) of sum(f(inputs) ⊙ r) for a fixed random cotangent r. */
function valueAndGrads(f: (...xs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[], seed: string) {
  return tf.tidy(() => {
    const r = seededNormal(f(...inputs).shape, seed);
    const g = tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(f(...xs), r)));
    return { y: f(...inputs).dataSync(), grads: g(inputs).map((t) => t.dataSync()) };
  });
}

function expectSame(
  fused: (...xs: tf.Tensor[]) => tf.Tensor,
  composed: (...xs: tf.Tensor[]) => tf.Tensor,
  inputs: tf.Tensor[],
  tol: number,
) {
  const a = valueAndGrads(fused, inputs, 'cot');
  const b = valueAndGrads(composed, inputs, 'cot');
  expect(a.y.length).toBe(b.y.length);
  expect(maxAbsDiff(a.y, b.y)).toBeLessThan(tol);
  for (const [i, g] of a.grads.entries()) expect(maxAbsDiff(g, b.grads[i])).toBeLessThan(tol);
}

describe.each(['wasm', 'cpu'])('fused ops on %s', (backend) => {
  const on = (fn: () => void | Promise<void>) => () => onBackend(backend, fn);

  it(
    'RMSNorm: forward, dx and dw equal the composed ops (d a multiple of 4 or not)',
    on(() => {
      for (const d of [16, 18]) {
        const x = seededNormal([6, d], 'x', 2);
        const w = tf.add(seededNormal([d], 'w', 0.3), 1);
        expectSame(
          (a, b) => rmsNorm(a as tf.Tensor2D, b as tf.Tensor1D, 1e-5),
          (a, b) => rmsNormComposed(a as tf.Tensor2D, b as tf.Tensor1D, 1e-5),
          [x, w],
          2e-5,
        );
        tf.dispose([x, w]);
      }
    }),
  );

  it.each([
    ['plain, head size 8', 8, null],
    [
      'llama3-scaled, head size 6',
      6,
      { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 256 } as const,
    ],
  ] as const)(
    'RoPE + head split (%s): rotated, transposed and scaled heads equal rope.apply + transpose, at pos 0 and pos > 0',
    (_, hs, scaling) =>
      on(() => {
        const [B, T, H] = [2, 5, 3];
        const rope = new Rope(hs, 16, 10000, scaling);
        const x = seededNormal([B * T, H * hs], 'x') as tf.Tensor2D;
        for (const [pos, scale] of [
          [0, 1],
          [7, 0.25],
        ]) {
          const composed = (a: tf.Tensor) =>
            tf.mul(
              tf.transpose(rope.apply(tf.reshape(a, [B, T, H, hs]) as tf.Tensor4D, pos), [0, 2, 1, 3]),
              scale,
            );
          expectSame((a) => rope.heads(a as tf.Tensor2D, B, T, H, pos, scale), composed, [x], 1e-6);
          expect(rope.heads(x, B, T, H, pos, scale).shape).toEqual([B, H, T, hs]);
        }
        expect(() => rope.heads(x, B, T, H, 12)).toThrow(/exceeds maxSeqLen 16/);
        x.dispose();
        rope.dispose();
      })(),
  );

  it(
    'RoPE backward equals central finite differences',
    on(() => {
      const [B, T, H, hs] = [1, 3, 2, 4];
      const rope = new Rope(hs, 8, 10000);
      const x = seededNormal([B * T, H * hs], 'fd');
      const r = seededNormal([B, H, T, hs], 'fd-r');
      const loss = (a: tf.Tensor) => tf.sum(tf.mul(rope.heads(a as tf.Tensor2D, B, T, H, 2, 0.5), r));
      const g = tf.grad(loss)(x).dataSync();
      const base = x.dataSync();
      const eps = 1e-2;
      for (let i = 0; i < base.length; i++) {
        const at = (d: number) => {
          const v = Float32Array.from(base);
          v[i] += d;
          return tf.tidy(() => loss(tf.tensor2d(v, x.shape as [number, number])).dataSync()[0]);
        };
        expect(Math.abs((at(eps) - at(-eps)) / (2 * eps) - g[i])).toBeLessThan(1e-3);
      }
      tf.dispose([x, r]);
      rope.dispose();
    }),
  );

  it(
    'masked softmax: a shared causal mask and per-sequence masks equal add + softmax, forward and gradient',
    on(() => {
      const [B, G, T, S] = [2, 3, 4, 6];
      const scores = seededNormal([B, G, T, S], 's', 3) as tf.Tensor4D;
      const causal = causalMask(T, S - T, S); // (T, S)
      const skip = new Float32Array(B * T * S);
      skip[1 * T * S + 2 * S + 1] = MASKED; // sequence 1, query 2 skips key 1
      const perSeq = tf.add(tf.tensor3d(skip, [B, T, S]), causal) as tf.Tensor3D; // (B, T, S)
      for (const mask of [causal, perSeq]) {
        expectSame(
          (a) => maskedSoftmax(a as tf.Tensor4D, mask),
          (a) => maskedSoftmaxComposed(a as tf.Tensor4D, mask),
          [scores],
          1e-6,
        );
      }
      const p = maskedSoftmax(scores, perSeq).arraySync() as number[][][][];
      expect(p[1][0][2][1]).toBe(0);
      expect(p[0][0][2][1]).toBeGreaterThan(0);
      tf.dispose([scores, causal, perSeq]);
    }),
  );

  it(
    'masked softmax: rows of 37 and 256 keys with large scores follow a float64 reference, a fully masked row too',
    on(() => {
      for (const S of [37, 256]) {
        const [G, T] = [2, 5];
        const scores = seededNormal([1, G, T, S], `big${S}`, 12) as tf.Tensor4D;
        const maskValues = new Float32Array(T * S);
        for (let t = 0; t < T; t++) for (let j = t * 7 + 1; j < S; j++) maskValues[t * S + j] = MASKED;
        maskValues.fill(MASKED, (T - 1) * S, T * S); // the last query sees no key
        const mask = tf.tensor2d(maskValues, [T, S]);
        const x = scores.dataSync();
        const got = maskedSoftmax(scores, mask).dataSync();
        let worst = 0;
        for (let r = 0; r < G * T; r++) {
          const t = r % T;
          const row = Array.from({ length: S }, (_, j) => Math.fround(x[r * S + j] + maskValues[t * S + j]));
          const max = Math.max(...row);
          const e = row.map((v) => Math.exp(v - max));
          const sum = e.reduce((a, b) => a + b, 0);
          for (let j = 0; j < S; j++) worst = Math.max(worst, Math.abs(got[r * S + j] - e[j] / sum));
        }
        expect(worst).toBeLessThan(2e-6);
        const last = Array.from(got.subarray((T - 1) * S, T * S)); // (g 0, t T − 1): finite, a distribution
        expect(last.every(Number.isFinite)).toBe(true);
        expect(last.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
        tf.dispose([scores, mask]);
      }
    }),
  );

  it(
    'masked softmax, causal: keys after each query get exactly 0 unread, the rest equal add + softmax, with a cache',
    on(() => {
      // (T, S): a training step's square rows, rows with a cache before them (S > T), tails of S mod 4
      for (const [T, S] of [
        [9, 9],
        [4, 6],
        [37, 37],
        [5, 42],
      ]) {
        const B = 2;
        const scores = seededNormal([B, 3, T, S], `c${T}x${S}`, 4) as tf.Tensor4D;
        const causal = causalMask(T, S - T, S); // (T, S)
        const skip = new Float32Array(B * T * S);
        for (let t = 1; t < T; t += 2) skip[T * S + t * S + (t >> 1)] = MASKED; // sequence 1 skips some keys
        const perSeq = tf.add(tf.tensor3d(skip, [B, T, S]), causal) as tf.Tensor3D; // (B, T, S)
        // scores after each query's position NaN: a causal softmax must not read them
        const future = scores.dataSync().slice();
        for (let r = 0; r < B * 3 * T; r++)
          for (let j = (r % T) + 1 + S - T; j < S; j++) future[r * S + j] = Number.NaN;
        const unread = tf.tensor4d(future, scores.shape);
        for (const mask of [causal, perSeq]) {
          const want = maskedSoftmaxComposed(scores, mask);
          const got = maskedSoftmax(unread, mask, { causal: true });
          if (tf.getBackend() === 'wasm') {
            const [g, w] = [got.dataSync(), want.dataSync()];
            for (let i = 0; i < g.length; i++) {
              const j = i % S;
              const t = Math.floor(i / S) % T;
              if (j > t + S - T) expect(g[i], `T ${T}, S ${S}, element ${i}`).toBe(0);
              else expect(Math.abs(g[i] - w[i]), `T ${T}, S ${S}, element ${i}`).toBeLessThan(1e-6);
            }
          }
          expectSame(
            (a) => maskedSoftmax(a as tf.Tensor4D, mask, { causal: true }),
            (a) => maskedSoftmaxComposed(a as tf.Tensor4D, mask),
            [scores],
            1e-6,
          );
          tf.dispose([want, got]);
        }
        tf.dispose([scores, causal, perSeq, unread]);
      }
      expect(() =>
        maskedSoftmax(tf.zeros([1, 1, 3, 2]) as tf.Tensor4D, tf.zeros([3, 2]) as tf.Tensor2D, {
          causal: true,
        }),
      ).toThrow(/a causal mask needs at least as many keys as queries, got T 3, S 2/);
    }),
  );

  it(
    'token NLL: equals logSoftmax + one-hot pick, forward and gradient; a target outside [0, V) gives 0',
    on(() => {
      const logits = seededNormal([5, 11], 'l', 4) as tf.Tensor2D;
      const targets = tf.tensor1d([3, 0, 10, 7, 11], 'int32'); // 11 is out of range
      expectSame(
        (a) => tokenNllFused(a as tf.Tensor2D, targets),
        (a) => tokenNllComposed(a as tf.Tensor2D, targets),
        [logits],
        2e-5,
      );
      expect(tokenNllFused(logits, targets).dataSync()[4]).toBe(0);
      tf.dispose([logits, targets]);
    }),
  );

  it(
    'fused forward + backward does not leak tensors',
    on(async () => {
      const x = seededNormal([4, 8], 'leak');
      const w = tf.ones([8]) as tf.Tensor1D;
      const logits = seededNormal([4, 8], 'leak-l');
      const targets = tf.tensor1d([1, 2, 3, 4], 'int32');
      const mask = causalMask(4, 0, 4);
      await expectNoLeak(() => {
        tf.tidy(() => {
          const g = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
            tf.add(
              tf.sum(rmsNorm(a as tf.Tensor2D, w, 1e-5)),
              tf.sum(tf.mul(maskedSoftmax(tf.reshape(b, [1, 2, 4, 4]) as tf.Tensor4D, mask), 2)),
            ),
          );
          g([x, tf.reshape(seededNormal([32], 'm'), [4, 8])]);
          tf.grad((l: tf.Tensor) => tf.sum(tokenNllFused(l as tf.Tensor2D, targets)))(logits);
        });
      });
      tf.dispose([x, w, logits, targets, mask]);
    }),
  );
});
