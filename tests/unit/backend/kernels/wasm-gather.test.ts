// The wasm GatherV2 (src/backend/kernels/wasm-gather.ts) equals the cpu backend's, bit for bit: along axis 0 for
// float32 and int32, indices with runs, repeats and any rank, tables of any rank; other axes and batch dims through
// the original kernel; an index out of range throws before anything is allocated; the gradient is unchanged.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { wasmGather } from '../../../../src/backend/kernels/wasm-gather.js';
import { selectBackend } from '../../../../src/backend/select-node.js';
import { onBackend } from '../../../helpers/index.js';

const values = (shape: number[]) =>
  Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i * 1.3) * 100);

/** [table shape, indices, indices shape, axis, batchDims] */
const CASES: [number[], number[], number[], number, number][] = [
  [[11, 6], [3, 4, 5, 0, 0, 10, 2], [7], 0, 0], // runs, repeats, the last row
  [[5, 2, 3, 4], [4, 0, 1, 2, 2, 3], [2, 3], 0, 0], // a rank-4 table, 2-D indices (a KV cache's rows)
  [[9], [8, 1, 1], [3], 0, 0], // rank 1: rows of one element
  [[4, 7], [6, 0, 2], [3], 1, 0], // axis 1: the original kernel
  // (batch dims also go to the original kernel, which returns wrong values in tfjs-backend-wasm 4.22: not tested)
];

describe('wasm GatherV2', () => {
  it.each(CASES)(
    'table %j, indices %j (%j), axis %i, batchDims %i: equal to the cpu backend exactly',
    async (shape, idx, idxShape, axis, batchDims) => {
      await selectBackend({ backend: 'wasm' });
      expect(tf.getKernel(tf.GatherV2, 'wasm')?.kernelFunc).toBe(wasmGather.kernelFunc); // installed by selectBackend
      for (const dtype of ['float32', 'int32'] as const) {
        const run = () =>
          tf.tidy(() => {
            const y = tf.gather(
              tf.tensor(values(shape), shape, dtype),
              tf.tensor(idx, idxShape, 'int32'),
              axis,
              batchDims,
            );
            return { shape: y.shape, data: Array.from(y.dataSync()) };
          });
        const expected = await onBackend('cpu', run);
        const before = tf.memory().numTensors;
        expect(run()).toEqual(expected);
        expect(tf.memory().numTensors).toBe(before);
      }
    },
  );

  it('throws on an index out of range, naming it, and leaks nothing', async () => {
    await selectBackend({ backend: 'wasm' });
    const x = tf.tensor(values([11, 6]), [11, 6]);
    const bad = tf.tensor1d([2, 11, 0], 'int32');
    const negative = tf.tensor1d([-1], 'int32');
    const before = { tensors: tf.memory().numTensors, bytes: tf.memory().numBytes };
    expect(() => tf.gather(x, bad)).toThrow(/GatherV2: the index value 11 is not in \[0, 10\]/);
    expect(() => tf.gather(x, negative)).toThrow(/index value -1/);
    expect(tf.memory()).toMatchObject({ numTensors: before.tensors, numBytes: before.bytes });
    tf.dispose([x, bad, negative]);
  });

  it('the gradient of an embedding lookup equals the cpu backend', async () => {
    await selectBackend({ backend: 'wasm' });
    const grad = () =>
      tf.tidy(() => {
        const table = tf.tensor(values([6, 4]), [6, 4]);
        const ids = tf.tensor1d([1, 2, 2, 5, 0, 1], 'int32');
        const w = tf.tensor(values([6, 4]).reverse(), [6, 4]);
        const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, ids), w)))(table);
        return Array.from(g.dataSync());
      });
    const expected = await onBackend('cpu', grad);
    const got = grad();
    for (const [i, v] of got.entries()) expect(v).toBeCloseTo(expected[i], 4);
  });
});
