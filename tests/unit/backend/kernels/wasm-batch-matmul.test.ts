// The wasm BatchMatMul (the SIMD gemm from 16 rows, batched XNNPACK below) equals the cpu backend on every batch
// layout it takes, leaves the cases it delegates unchanged, and leaks nothing.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { wasmBatchMatMul } from '../../../../src/backend/kernels/wasm-batch-matmul.js';
import { expectClose, expectNoLeak, onBackend, seededNormal } from '../../../helpers/index.js';

describe('wasm BatchMatMul (SIMD gemm, batched XNNPACK)', () => {
  it('is installed by selectBackend', () => {
    expect(tf.getKernel(tf.BatchMatMul, 'wasm')?.kernelFunc).toBe(wasmBatchMatMul.kernelFunc);
  });

  it.each([
    ['equal batches', [6, 5, 3], [6, 3, 4], false, false],
    ['rank 4', [2, 3, 5, 3], [2, 3, 3, 7], false, false],
    ['only a batched', [4, 5, 3], [3, 4], false, false],
    ['only b batched', [5, 3], [4, 3, 2], false, false],
    ['a batch of 1 vs b batch', [1, 5, 3], [4, 3, 2], false, false],
    ['transposeA (delegated)', [3, 4, 5], [3, 4, 2], true, false],
    ['transposeB (delegated)', [3, 5, 4], [3, 2, 4], false, true],
    ['2-D (delegated)', [7, 3], [3, 5], false, false],
    // 16 rows and more: the SIMD gemm
    ['gemm: 2-D', [20, 6], [6, 9], false, false],
    ['gemm: 2-D, transposeB', [20, 6], [9, 6], false, true],
    ['gemm: equal batches', [3, 17, 7], [3, 7, 9], false, false],
    ['gemm: equal batches, transposeB', [3, 17, 7], [3, 9, 7], false, true],
    ['gemm: rank 4', [2, 3, 16, 5], [2, 3, 5, 7], false, false],
    ['gemm: only a batched', [4, 17, 5], [5, 6], false, false],
    ['gemm: only a batched, transposeB', [4, 17, 5], [6, 5], false, true],
    ['gemm: only b batched', [18, 5], [3, 5, 4], false, false],
    ['gemm: a batch of 1 vs b batch', [1, 16, 3], [4, 3, 2], false, false],
    ['gemm: transposeA (delegated)', [3, 4, 20], [3, 4, 2], true, false],
  ] as const)('%s: equals the cpu backend', async (_, sa, sb, ta, tb) => {
    const a = seededNormal([...sa], 'a');
    const b = seededNormal([...sb], 'b');
    const got = tf.matMul(a, b, ta, tb);
    const want = await onBackend('cpu', () => tf.matMul(a, b, ta, tb).arraySync());
    expect(got.shape).toEqual(tf.tensor(want as number[]).shape);
    expectClose(got, (want as number[]).flat(3), 1e-5, 1e-5);
    tf.dispose([a, b, got]);
  });

  it.each([6, 18])('gradients through batched products of %i rows equal the cpu backend', async (rows) => {
    const a = seededNormal([4, rows, 3], 'ga');
    const b = seededNormal([4, 3, 5], 'gb');
    const f = (x: tf.Tensor, y: tf.Tensor) =>
      tf.sum(tf.square(tf.matMul(x as tf.Tensor3D, y as tf.Tensor3D)));
    const [da, db] = tf.grads(f)([a, b]);
    const [ca, cb] = await onBackend('cpu', () =>
      tf
        .grads(f)([a, b])
        .map((t) => t.arraySync() as number[][][]),
    );
    expectClose(da, ca.flat(2), 1e-4, 1e-4);
    expectClose(db, cb.flat(2), 1e-4, 1e-4);
  });

  it('does not leak tensors', async () => {
    const a = seededNormal([8, 16, 4], 'la');
    const b = seededNormal([8, 4, 16], 'lb');
    await expectNoLeak(() => tf.matMul(a, b).dispose());
  });
});
