// The blocked wasm Transpose (src/backend/kernels/wasm-transpose.ts) equals the cpu backend's, bit for bit, on every
// adjacent-axes swap (2-D, batched, attention's head split, inner runs, sizes not multiples of the block) and
// falls back to the original kernel for other permutations and dtypes.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import {
  adjacentSwap,
  transposeBlocks,
  wasmTranspose,
} from '../../../../src/backend/kernels/wasm-transpose.js';
import { selectBackend } from '../../../../src/backend/select-node.js';
import { simdKernels } from '../../../../src/backend/simd/instance.js';
import { onBackend } from '../../../helpers/index.js';

const CASES: [number[], number[]][] = [
  [
    [37, 53],
    [1, 0],
  ],
  [
    [2048, 24],
    [1, 0],
  ],
  [
    [3, 17, 40],
    [0, 2, 1],
  ],
  [
    [2, 5, 3, 8],
    [0, 2, 1, 3],
  ],
  [
    [4, 6, 7],
    [1, 0, 2],
  ],
  [
    [2, 3, 4, 5],
    [0, 1, 3, 2],
  ],
  [
    [3, 4, 5],
    [2, 1, 0],
  ], // not an adjacent swap: original kernel
  [
    [2, 3, 4],
    [1, 2, 0],
  ], // nor this
];

describe('wasm Transpose', () => {
  it('finds adjacent swaps only', () => {
    expect(adjacentSwap([1, 0])).toBe(0);
    expect(adjacentSwap([0, 2, 1, 3])).toBe(1);
    expect(adjacentSwap([0, 1, 3, 2])).toBe(2);
    expect(adjacentSwap([0, 1, 2])).toBe(-1);
    expect(adjacentSwap([2, 1, 0])).toBe(-1);
    expect(adjacentSwap([1, 0, 3, 2])).toBe(-1);
    expect(adjacentSwap([1, 2, 0])).toBe(-1);
  });

  it.each(CASES)('shape %j perm %j equals the cpu backend exactly', async (shape, perm) => {
    await selectBackend({ backend: 'wasm' });
    expect(tf.getKernel(tf.Transpose, 'wasm')?.kernelFunc).toBe(wasmTranspose.kernelFunc); // installed by selectBackend
    const n = shape.reduce((a, b) => a * b, 1);
    const values = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 100);
    const expected = await onBackend('cpu', () => tf.transpose(tf.tensor(values, shape), perm).dataSync());
    const x = tf.tensor(values, shape);
    const y = tf.transpose(x, perm);
    expect(y.shape).toEqual(perm.map((i) => shape[i]));
    expect(Array.from(y.dataSync())).toEqual(Array.from(expected));
    tf.dispose([x, y]);
  });

  it('runs the SIMD kernel here, and the JS fallback (no SIMD) gives the same bits', async () => {
    await selectBackend({ backend: 'wasm' });
    const wasm = (tf.backend() as unknown as { wasm: { asm: { memory: object } } }).wasm;
    expect(simdKernels(wasm.asm.memory)).not.toBeNull();
    for (const [outer, R, C, inner] of [
      [1, 37, 53, 1],
      [3, 17, 40, 1],
      [2, 5, 3, 8],
    ]) {
      const x = Float32Array.from({ length: outer * R * C * inner }, (_, i) => Math.cos(i) * 10);
      const y = new Float32Array(x.length);
      transposeBlocks(x, y, outer, R, C, inner);
      const want = new Float32Array(x.length);
      for (let o = 0; o < outer; o++)
        for (let r = 0; r < R; r++)
          for (let c = 0; c < C; c++)
            for (let k = 0; k < inner; k++)
              want[((o * C + c) * R + r) * inner + k] = x[((o * R + r) * C + c) * inner + k];
      expect(Array.from(y)).toEqual(Array.from(want));
    }
  });

  it('int32 tensors still transpose (original kernel)', async () => {
    await selectBackend({ backend: 'wasm' });
    const y = tf.transpose(tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3], 'int32'));
    expect(y.dtype).toBe('int32');
    expect(Array.from(y.dataSync())).toEqual([1, 4, 2, 5, 3, 6]);
    y.dispose();
  });
});
