// Attention's core as one op on wasm (causal-attention.ts, gemm.wat's gemm_causal, softmax.wat): the output and the
// gradients of q, k and v against the tf ops on the cpu backend, over grouped heads, per-sequence masks with step
// skipping, a cache before the queries (S > T), T not a multiple of 4 (strips across query blocks) and S, T past
// one 256-wide block of the gemm; no tensor left behind by either backprop; bad shapes refused.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import {
  causalAttention,
  causalAttentionComposed,
  causalAttentionRuns,
} from '../../../../src/backend/kernels/causal-attention.js';
import { causalMask, MASKED } from '../../../../src/model/attention.js';
import { leanGradients } from '../../../../src/train/backprop.js';
import { expectClose, onBackend, seededNormal } from '../../../helpers/index.js';

interface Case {
  B: number;
  nkv: number;
  group: number;
  T: number;
  S: number;
  hs: number;
  skip: boolean;
}

/** The case's inputs as arrays (made on cpu, so both backends get the same values). */
async function inputs(c: Case) {
  return onBackend('cpu', () => {
    const E = c.B * c.nkv;
    const name = `${c.B}.${c.nkv}.${c.group}.${c.T}.${c.S}.${c.hs}`;
    const arr = (t: tf.Tensor) => {
      const v = t.dataSync().slice() as Float32Array;
      t.dispose();
      return v;
    };
    const mask = new Float32Array(c.B * c.T * c.S);
    for (let b = 0; b < c.B; b++)
      for (let t = 0; t < c.T; t++)
        for (let j = 0; j < c.S; j++) {
          const future = j > t + c.S - c.T;
          const skipped = c.skip && b === c.B - 1 && j < t + c.S - c.T && (t + j) % 3 === 0; // step skipping
          if (future || skipped) mask[(b * c.T + t) * c.S + j] = MASKED;
        }
    return {
      q: arr(seededNormal([E, c.group * c.T, c.hs], `q${name}`, 0.5)),
      k: arr(seededNormal([E, c.S, c.hs], `k${name}`)),
      v: arr(seededNormal([E, c.S, c.hs], `v${name}`)),
      dy: arr(seededNormal([E, c.group * c.T, c.hs], `dy${name}`)),
      mask,
    };
  });
}

/** y and the gradients of Σ dy ⊙ y with respect to q, k, v, by `f` on the active backend. */
function valueAndGrads(c: Case, x: Awaited<ReturnType<typeof inputs>>, fused: boolean): Float32Array[] {
  const E = c.B * c.nkv;
  const q = tf.tensor3d(x.q, [E, c.group * c.T, c.hs]);
  const k = tf.tensor3d(x.k, [E, c.S, c.hs]);
  const v = tf.tensor3d(x.v, [E, c.S, c.hs]);
  const dy = tf.tensor3d(x.dy, [E, c.group * c.T, c.hs]);
  const mask = tf.tensor3d(x.mask, [c.B, c.T, c.S]);
  const nh = c.nkv * c.group;
  const attention = fused ? causalAttention : causalAttentionComposed;
  const f = (a: tf.Tensor, b: tf.Tensor, d: tf.Tensor) =>
    attention(a as tf.Tensor3D, b as tf.Tensor3D, d as tf.Tensor3D, mask, { nh, B: c.B });
  const y = tf.tidy(() => f(q, k, v));
  const grads = tf.grads((a: tf.Tensor, b: tf.Tensor, d: tf.Tensor) => tf.sum(tf.mul(f(a, b, d), dy)))([
    q,
    k,
    v,
  ]);
  const out = [y, ...grads].map((t) => t.dataSync().slice() as Float32Array);
  tf.dispose([y, ...grads, q, k, v, dy, mask]);
  return out;
}

const CASES: Case[] = [
  { B: 2, nkv: 2, group: 3, T: 8, S: 8, hs: 8, skip: true },
  { B: 1, nkv: 1, group: 2, T: 6, S: 10, hs: 6, skip: false }, // a cache of 4 keys before the queries; T mod 4 = 2
  { B: 2, nkv: 1, group: 3, T: 37, S: 37, hs: 16, skip: true },
  { B: 1, nkv: 1, group: 1, T: 300, S: 300, hs: 8, skip: true }, // sums over more than one 256-wide block
  { B: 1, nkv: 2, group: 2, T: 260, S: 290, hs: 12, skip: false },
  { B: 1, nkv: 1, group: 2, T: 12, S: 13, hs: 8, skip: false }, // a strip's last key starts a panel of 8
];

describe('causal attention on wasm', () => {
  it.each(CASES)('equals the tf ops on cpu, output and gradients: %o', async (c) => {
    const x = await inputs(c);
    const want = await onBackend('cpu', () => valueAndGrads(c, x, false));
    const got = await onBackend('wasm', () => {
      const before = tf.memory().numTensors;
      const out = valueAndGrads(c, x, true);
      expect(tf.memory().numTensors).toBe(before);
      return out;
    });
    ['y', 'dq', 'dk', 'dv'].forEach((name, i) => {
      expect(got[i].every(Number.isFinite), name).toBe(true);
      expectClose(got[i], want[i], 2e-5, 1e-4);
    });
  });

  it("both backprops (the trainer's and tfjs's) get the three gradients from one pass, equal, and keep nothing", async () => {
    await onBackend('wasm', async () => {
      const [E, GT, S, hs] = [2, 24, 12, 8];
      const q = tf.variable(seededNormal([E, GT, hs], 'lq')) as tf.Variable<tf.Rank.R3>;
      const k = tf.variable(seededNormal([E, S, hs], 'lk')) as tf.Variable<tf.Rank.R3>;
      const v = tf.variable(seededNormal([E, S, hs], 'lv')) as tf.Variable<tf.Rank.R3>;
      const mask = causalMask(12, 0, 12);
      const probe = seededNormal([E, GT, hs], 'lp');
      const f = () => tf.sum(tf.mul(causalAttention(q, k, v, mask, { nh: 4, B: 1 }), probe)) as tf.Scalar;
      let theirs: tf.Tensor[] = [];
      const tfjs = await tf.profile(() => {
        theirs = tf.grads((a: tf.Tensor, b: tf.Tensor, d: tf.Tensor) =>
          tf.sum(
            tf.mul(
              causalAttention(a as tf.Tensor3D, b as tf.Tensor3D, d as tf.Tensor3D, mask, { nh: 4, B: 1 }),
              probe,
            ),
          ),
        )([q, k, v]);
      });
      expect(tfjs.kernels.filter((kn) => kn.name === 'MoteCausalAttentionGrad')).toHaveLength(1);
      const before = tf.memory().numTensors;
      let out: ReturnType<typeof leanGradients> | undefined;
      const profile = await tf.profile(() => {
        out = leanGradients(f, [q, k, v]);
      });
      const { value, grads } = out!;
      expect(profile.kernels.filter((kn) => kn.name === 'MoteCausalAttentionGrad')).toHaveLength(1);
      expect(tf.memory().numTensors).toBe(before + 4); // the value and three gradients
      for (let i = 0; i < 3; i++)
        expect(Array.from(grads[i]!.dataSync())).toEqual(Array.from(theirs[i].dataSync()));
      tf.dispose([value, ...grads.map((t) => t!), ...theirs, q, k, v, mask, probe]);
    });
  });

  it('runs on wasm with SIMD from 16 query rows, not on cpu; refuses shapes that do not fit', async () => {
    await onBackend('wasm', () => {
      expect(causalAttentionRuns(16)).toBe(true);
      expect(causalAttentionRuns(3)).toBe(false); // decoding's few rows stay on the tf ops
      const [q, k] = [tf.zeros([2, 12, 4]) as tf.Tensor3D, tf.zeros([2, 6, 4]) as tf.Tensor3D];
      expect(() => causalAttention(q, k, k, tf.zeros([6, 6]) as tf.Tensor2D, { nh: 5, B: 1 })).toThrow(
        /q \[2,12,4\], k \[2,6,4\], v \[2,6,4\] with 5 heads and batch 1: expected q \(B·nkv, group·T, hs\)/,
      );
      expect(() =>
        causalAttention(
          q,
          tf.zeros([2, 3, 4]) as tf.Tensor3D,
          tf.zeros([2, 3, 4]) as tf.Tensor3D,
          tf.zeros([6, 3]) as tf.Tensor2D,
          {
            nh: 4,
            B: 1,
          },
        ),
      ).toThrow(/S ≥ T/);
      tf.dispose([q, k]);
    });
    await onBackend('cpu', () => {
      expect(causalAttentionRuns(64)).toBe(false);
      const x = tf.zeros([1, 16, 4]) as tf.Tensor3D;
      expect(() => causalAttention(x, x, x, tf.zeros([16, 16]) as tf.Tensor2D, { nh: 1, B: 1 })).toThrow(
        /runs on the wasm backend with WebAssembly SIMD, not on cpu/,
      );
      x.dispose();
    });
  });
});
