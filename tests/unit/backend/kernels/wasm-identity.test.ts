// The copy-free wasm Identity (src/backend/kernels/wasm-identity.ts): a clone shares its source's data and keeps it
// alive after the source is disposed, a Variable's assign leaves earlier clones unchanged, memory is freed with the
// last reference, and gradients through saved tensors still equal the cpu backend's.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { wasmIdentity } from '../../../../src/backend/kernels/wasm-identity.js';
import { selectBackend } from '../../../../src/backend/select-node.js';
import { expectClose, onBackend } from '../../../helpers/index.js';

describe('wasm Identity', () => {
  beforeAll(async () => {
    await selectBackend({ backend: 'wasm' });
    expect(tf.getKernel(tf.Identity, 'wasm')?.kernelFunc).toBe(wasmIdentity.kernelFunc); // installed by selectBackend
  });

  it('a clone shares the data, outlives its source, and frees it with the last reference', () => {
    const bytes = tf.memory().numBytes;
    const x = tf.tensor1d([1, 2, 3]);
    const y = tf.clone(x);
    expect(y.dataId).toBe(x.dataId);
    x.dispose();
    expect(Array.from(y.dataSync())).toEqual([1, 2, 3]);
    y.dispose();
    expect(tf.memory().numBytes).toBe(bytes);
  });

  it("a variable's assign does not change an earlier clone", () => {
    const v = tf.variable(tf.tensor1d([1, 2]));
    const c = tf.clone(v);
    v.assign(tf.tensor1d([5, 6]));
    expect(Array.from(c.dataSync())).toEqual([1, 2]);
    expect(Array.from(v.dataSync())).toEqual([5, 6]);
    tf.dispose([v, c]);
  });

  it('gradients through saved tensors equal the cpu backend', async () => {
    const f = (x: tf.Tensor) => tf.sum(tf.mul(tf.softmax(tf.mul(x, x)), tf.sigmoid(x)));
    const values = Array.from({ length: 12 }, (_, i) => Math.cos(i));
    const expected = await onBackend('cpu', () =>
      tf
        .grad(f)(tf.tensor2d(values, [3, 4]))
        .dataSync(),
    );
    const x = tf.tensor2d(values, [3, 4]);
    const g = tf.grad(f)(x);
    expectClose(g, expected, 1e-6, 1e-5);
    tf.dispose([x, g]);
  });
});
