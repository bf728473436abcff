// The wasm Concat (src/backend/kernels/wasm-concat.ts) equals the cpu backend's, bit for bit, on every axis, for
// float32 and int32, short rows (loop) and long rows (copyWithin), empty inputs mixed in, NaN payloads kept; bool
// and a single non-empty input go to the original kernel; no tensor is leaked.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { wasmConcat } from '../../../../src/backend/kernels/wasm-concat.js';
import { selectBackend } from '../../../../src/backend/select-node.js';
import { onBackend } from '../../../helpers/index.js';

/** [input shapes, axis] */
const CASES: [number[][], number][] = [
  [
    [
      [688, 16],
      [688, 16],
    ],
    1,
  ], // MoTE's [A_sh | A_e]
  [
    [
      [16, 256],
      [16, 256],
    ],
    0,
  ], // [B_sh; B_e]
  [
    [
      [3, 5],
      [3, 70],
      [3, 1],
    ],
    1,
  ], // a row of 70 floats: copyWithin
  [
    [
      [2, 3, 4],
      [2, 5, 4],
    ],
    1,
  ],
  [
    [
      [2, 3, 4],
      [2, 3, 9],
    ],
    -1,
  ],
  [[[7], [0], [9]], 0], // an empty input among others
  [
    [
      [4, 0],
      [4, 3],
      [4, 2],
    ],
    1,
  ],
];

const values = (shape: number[], seed: number) =>
  Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i + seed) * 100);

describe('wasm Concat', () => {
  it.each(CASES)(
    'shapes %j axis %i equal the cpu backend exactly (float32 and int32)',
    async (shapes, axis) => {
      await selectBackend({ backend: 'wasm' });
      expect(tf.getKernel(tf.Concat, 'wasm')?.kernelFunc).toBe(wasmConcat.kernelFunc); // installed by selectBackend
      for (const dtype of ['float32', 'int32'] as const) {
        const make = () => shapes.map((s, j) => tf.tensor(values(s, j), s, dtype));
        const expected = await onBackend('cpu', () => tf.tidy(() => tf.concat(make(), axis).dataSync()));
        const before = tf.memory().numTensors;
        const xs = make();
        const y = tf.concat(xs, axis);
        expect(y.dtype).toBe(dtype);
        expect(Array.from(y.dataSync())).toEqual(Array.from(expected));
        tf.dispose([...xs, y]);
        expect(tf.memory().numTensors).toBe(before);
      }
    },
  );

  it('copies bits: a NaN payload survives', async () => {
    await selectBackend({ backend: 'wasm' });
    const bits = new Int32Array([0x7fa00001, 0x7fc00000, -1, 42]);
    const a = tf.tensor(new Float32Array(bits.buffer), [2, 2]);
    const y = tf.concat([a, a], 1);
    expect(Array.from(new Int32Array((y.dataSync() as Float32Array).buffer))).toEqual([
      0x7fa00001, 0x7fc00000, 0x7fa00001, 0x7fc00000, -1, 42, -1, 42,
    ]);
    tf.dispose([a, y]);
  });

  it('bool inputs and a single non-empty input still concatenate (original kernel)', async () => {
    await selectBackend({ backend: 'wasm' });
    const b = tf.concat([tf.tensor1d([true, false], 'bool'), tf.tensor1d([true], 'bool')]);
    expect(b.dtype).toBe('bool');
    expect(Array.from(b.dataSync())).toEqual([1, 0, 1]);
    const one = tf.concat([tf.zeros([0, 2]), tf.tensor2d([[1, 2]])], 0);
    expect(Array.from(one.dataSync())).toEqual([1, 2]);
    tf.dispose([b, one]);
  });
});
