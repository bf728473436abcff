import * as tf from '@tensorflow/tfjs';
import seedrandom from 'seedrandom';
import { describe, expect, it } from 'vitest';
import { sumSegments } from '../../../../src/backend/kernels/unsorted-segment-sum.js';
import { onBackend, seededNormal } from '../../../helpers/index.js';

/** Runs `fn` on wasm and on cpu with the same inputs (built on each backend) and returns both outputs. */
async function onBoth(
  fn: () => tf.Tensor,
): Promise<{ wasm: tf.TypedArray; cpu: tf.TypedArray; shape: number[] }> {
  const run = async () => {
    const out = fn();
    const values = (await out.data()) as tf.TypedArray;
    const shape = out.shape;
    out.dispose();
    return { values, shape };
  };
  const wasm = await onBackend('wasm', run);
  const cpu = await onBackend('cpu', run);
  expect(wasm.shape).toEqual(cpu.shape);
  return { wasm: wasm.values, cpu: cpu.values, shape: wasm.shape };
}

/** The float32 bit patterns: equal iff bit-identical (+0 and −0 differ, NaNs compare by payload). */
function bits(values: tf.TypedArray): number[] {
  return Array.from(new Uint32Array(Float32Array.from(values).buffer));
}

function seededIds(n: number, numSegments: number, seed: string, lo = 0): number[] {
  const rng = seedrandom(seed);
  return Array.from({ length: n }, () => lo + Math.floor(rng() * (numSegments - lo)));
}

describe('UnsortedSegmentSum on wasm', () => {
  it('exists on wasm and gives known values', async () => {
    expect(tf.getBackend()).toBe('wasm');
    const x = tf.tensor2d([1, 2, 3, 4, 5, 6, 7, 8], [4, 2]);
    const out = tf.unsortedSegmentSum(x, tf.tensor1d([2, 0, 2, 0], 'int32'), 4);
    expect(out.shape).toEqual([4, 2]);
    expect(Array.from(await out.data())).toEqual([3 + 7, 4 + 8, 0, 0, 1 + 5, 2 + 6, 0, 0]);
    tf.dispose([x, out]);
  });

  it.each([
    { name: 'rank 2', xShape: [200, 7], numSegments: 13 },
    { name: 'rank 3', xShape: [6, 9, 5], numSegments: 4 },
    { name: 'rank 1 (scalar slices)', xShape: [300], numSegments: 17 },
    { name: 'more segments than ids (empty ones)', xShape: [5, 3], numSegments: 40 },
  ])('is bit-identical to the cpu backend: $name', async ({ xShape, numSegments }) => {
    const ids = seededIds(xShape[0], numSegments, `ids-${xShape}`);
    const xVals = seededNormal(xShape, `x-${xShape}`, 3).dataSync();
    const { wasm, cpu } = await onBoth(() =>
      tf.tidy(() => tf.unsortedSegmentSum(tf.tensor(xVals, xShape), tf.tensor1d(ids, 'int32'), numSegments)),
    );
    expect(bits(wasm)).toEqual(bits(cpu));
  });

  it('drops ids outside [0, numSegments) like the cpu backend', async () => {
    const ids = [0, -1, 3, 1, 7, 1];
    const { wasm, cpu } = await onBoth(() =>
      tf.tidy(() =>
        tf.unsortedSegmentSum(
          tf.tensor2d([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [6, 2]),
          tf.tensor1d(ids, 'int32'),
          3,
        ),
      ),
    );
    expect(Array.from(wasm)).toEqual([1, 2, 7 + 11, 8 + 12, 0, 0]);
    expect(bits(wasm)).toEqual(bits(cpu));
  });

  it('sums int32 exactly and keeps the dtype', async () => {
    const x = tf.tensor2d([1, -2, 30000, 4, 5, 6], [3, 2], 'int32');
    const out = tf.unsortedSegmentSum(x, tf.tensor1d([1, 1, 0], 'int32'), 2);
    expect(out.dtype).toBe('int32');
    expect(Array.from(await out.data())).toEqual([5, 6, 30001, 2]);
    tf.dispose([x, out]);
  });

  it('takes ids of higher rank as a prefix of x (TensorFlow semantics; the cpu backend cannot)', async () => {
    const xVals = seededNormal([4, 3, 2], 'x-prefix').dataSync();
    const ids = [1, 0, 2, 2, 1, 0, 0, 0, 1, 2, 2, 1];
    const nested = tf.unsortedSegmentSum(
      tf.tensor(xVals, [4, 3, 2]),
      tf.tensor2d(ids, [4, 3], 'int32') as unknown as tf.Tensor1D,
      3,
    );
    const flat = tf.unsortedSegmentSum(tf.tensor(xVals, [12, 2]), tf.tensor1d(ids, 'int32'), 3);
    expect(nested.shape).toEqual([3, 2]);
    expect(bits(await nested.data())).toEqual(bits(await flat.data()));
    tf.dispose([nested, flat]);
  });

  it('survives wasm heap growth while allocating its output', async () => {
    const heapBytes = () =>
      (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.buffer.byteLength;
    const before = heapBytes();
    const inner = 8;
    const numSegments = Math.ceil(before / 4 / inner) + 1024; // output alone is larger than the whole heap
    const x = tf.tensor2d(
      Array.from({ length: 3 * inner }, (_, i) => i),
      [3, inner],
    );
    const out = tf.unsortedSegmentSum(
      x,
      tf.tensor1d([numSegments - 1, 5, numSegments - 1], 'int32'),
      numSegments,
    );
    expect(heapBytes()).toBeGreaterThan(before);
    const last = await out.slice([numSegments - 1, 0], [1, inner]).data();
    const five = await out.slice([5, 0], [1, inner]).data();
    expect(Array.from(last)).toEqual(Array.from({ length: inner }, (_, j) => j + (2 * inner + j)));
    expect(Array.from(five)).toEqual(Array.from({ length: inner }, (_, j) => inner + j));
    tf.dispose([x, out]);
  });

  it('rejects a non-prefix ids shape, naming both shapes', () => {
    const x = tf.zeros([4, 3]);
    const ids = tf.zeros([3], 'int32') as tf.Tensor1D;
    expect(() => tf.unsortedSegmentSum(x, ids, 2)).toThrow(
      /segmentIds shape \[3\] is not a prefix of x shape \[4,3\]/,
    );
    tf.dispose([x, ids]);
  });
});

describe('gradient of tf.gather on wasm', () => {
  it.each([
    { axis: 0, paramsShape: [11, 6], indicesShape: [20] },
    { axis: 0, paramsShape: [11, 6], indicesShape: [4, 5] },
    { axis: 1, paramsShape: [3, 9, 4], indicesShape: [7] },
  ])('equals the cpu gradient: axis $axis, params $paramsShape, indices $indicesShape', async (c) => {
    const params = seededNormal(c.paramsShape, 'params').dataSync();
    const n = c.indicesShape.reduce((a, b) => a * b, 1);
    const indices = seededIds(n, c.paramsShape[c.axis], 'gather-idx');
    const outShape = [
      ...c.paramsShape.slice(0, c.axis),
      ...c.indicesShape,
      ...c.paramsShape.slice(c.axis + 1),
    ];
    const weights = seededNormal(outShape, 'dy').dataSync();
    const { wasm, cpu } = await onBoth(() =>
      tf.tidy(() => {
        const w = tf.tensor(weights, outShape);
        const idx = tf.tensor(indices, c.indicesShape, 'int32');
        const loss = (p: tf.Tensor) => tf.sum(tf.mul(tf.gather(p, idx, c.axis), w));
        return tf.grad(loss)(tf.tensor(params, c.paramsShape));
      }),
    );
    expect(bits(wasm)).toEqual(bits(cpu));
  });
});

describe('sumSegments', () => {
  it('writes every output element, in float64, rounding once', () => {
    const ys = new Float32Array(3).fill(Number.NaN);
    sumSegments(new Float32Array([1e8, 1, -1e8, 5]), [0, 0, 0, 2], 3, 1, ys);
    expect(Array.from(ys)).toEqual([1, 0, 5]);
  });
});
