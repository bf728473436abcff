// Products with a weight kept in one copy (src/backend/kernels/weight-matmul.ts, backend/simd/gemm.wat): x·W and
// y·Wᵀ equal the cpu backend's products over the blocking's edges (rows mod 4, rows over one 256 block, columns
// mod 8, K mod 4, K over one 256 block), their gradients equal tf.matMul's, and they leave no packed copy of W on the heap.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { weightMatMul, weightMatMulT } from '../../../../src/backend/kernels/weight-matmul.js';
import { expectClose, onBackend, seededNormal } from '../../../helpers/index.js';

/** [M, K, N]: one micro-kernel, remainders of every loop, several K blocks and row blocks, and decoding rows. */
const SHAPES: [number, number, number][] = [
  [16, 4, 8],
  [17, 13, 5],
  [23, 300, 19],
  [200, 517, 33],
  [259, 261, 9],
  [64, 576, 192],
  [3, 40, 12],
];

const host = async (f: () => tf.Tensor) => {
  const t = f();
  const v = await t.data();
  t.dispose();
  return v;
};

describe('weightMatMul / weightMatMulT', () => {
  it.each(SHAPES)('x (%i, %i) · W (…, %i) and y·Wᵀ equal the cpu products', async (M, K, N) => {
    const x = seededNormal([M, K], `x${M}`) as tf.Tensor2D;
    const y = seededNormal([M, N], `y${M}`) as tf.Tensor2D;
    const w = seededNormal([K, N], `w${K}`) as tf.Tensor2D;
    const run = () => Promise.all([host(() => weightMatMul(x, w)), host(() => weightMatMulT(y, w))]);
    const [xw, ywt] = await onBackend('wasm', run);
    const [xwRef, ywtRef] = await onBackend('cpu', () =>
      Promise.all([host(() => tf.matMul(x, w)), host(() => tf.matMul(y, w, false, true))]),
    );
    expectClose(xw, xwRef, 1e-4, 1e-4);
    expectClose(ywt, ywtRef, 1e-4, 1e-4);
    tf.dispose([x, y, w]);
  });

  it.each(['wasm', 'cpu'])(
    'gradients of x and of a trainable W equal those of tf.matMul on %s',
    async (backend) => {
      await onBackend(backend, async () => {
        const x = seededNormal([30, 20], 'gx') as tf.Tensor2D;
        const y = seededNormal([30, 12], 'gy') as tf.Tensor2D;
        const w = seededNormal([20, 12], 'gw') as tf.Tensor2D;
        const probe = seededNormal([30, 12], 'gp');
        const probeT = seededNormal([30, 20], 'gq');
        const ours = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
          tf.add(
            tf.sum(tf.mul(weightMatMul(a as tf.Tensor2D, c as tf.Tensor2D), probe)),
            tf.sum(tf.mul(weightMatMulT(b as tf.Tensor2D, c as tf.Tensor2D), probeT)),
          ),
        )([x, y, w]);
        const want = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
          tf.add(
            tf.sum(tf.mul(tf.matMul(a, c), probe)),
            tf.sum(tf.mul(tf.matMul(b, c, false, true), probeT)),
          ),
        )([x, y, w]);
        for (let i = 0; i < 3; i++) expectClose(ours[i], want[i], 1e-4, 1e-4);
        tf.dispose([x, y, w, probe, probeT, ...ours, ...want]);
      });
    },
  );

  it('keeps no packed copy of W on wasm (nor does tf.matMul from 16 rows): the heap does not grow over 24 weights', async () => {
    await onBackend('wasm', () => {
      const heap = () => (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.length;
      const growth = (product: (x: tf.Tensor2D, w: tf.Tensor2D) => tf.Tensor, rows = 32) => {
        const ws = Array.from({ length: 24 }, (_, i) => tf.fill([256, 1024], i / 24) as tf.Tensor2D);
        const x = seededNormal([rows, 256], 'hx') as tf.Tensor2D;
        tf.dispose(product(x, ws[0])); // the output's buffer, reused by every later product
        const before = heap();
        for (const w of ws) tf.dispose(product(x, w));
        const grown = heap() - before;
        tf.dispose([x, ...ws]);
        return grown;
      };
      // below 16 rows tf.matMul is XNNPACK's, which keeps 1 MiB per weight; from 16, the SIMD gemm, which keeps none
      expect(growth((x, w) => tf.matMul(x, w), 8)).toBeGreaterThan(12 * 2 ** 20);
      expect(growth((x, w) => tf.matMul(x, w))).toBe(0);
      expect(growth(weightMatMul)).toBe(0);
    });
  });
});
