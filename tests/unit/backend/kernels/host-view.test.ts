// hostView and hostTensors (src/backend/kernels/js-kernel.ts): float32 tensors' values read, or written, in place on
// wasm and cpu; null elsewhere.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { hostTensors, hostView } from '../../../../src/backend/kernels/js-kernel.js';
import { onBackend } from '../../../helpers/index.js';

describe.each(['wasm', 'cpu'])('hostView on %s', (backend) => {
  it('gives the values without a copy; int32 gives null', async () => {
    await onBackend(backend, () => {
      const t = tf.tensor2d([1.5, -2, 3, 4.25], [2, 2]);
      const view = hostView(t)!;
      expect(Array.from(view)).toEqual([1.5, -2, 3, 4.25]);
      expect(hostView(t)!.buffer).toBe(view.buffer); // the same memory each time, not a fresh copy
      if (backend === 'wasm')
        expect(view.buffer.byteLength).toBeGreaterThan(1 << 20); // the heap itself
      else expect(view).toBe(t.dataSync()); // cpu's own array
      expect(hostView(tf.tensor1d([1, 2], 'int32'))).toBeNull();
      t.dispose();
    });
  });
});

describe.each(['wasm', 'cpu'])('hostTensors on %s', (backend) => {
  it('makes tensors that the fill writes in place, and disposes them when the fill throws', async () => {
    await onBackend(backend, () => {
      const before = tf.memory().numTensors;
      const made = hostTensors([[2, 3], [4], []], (views) => {
        expect(views.map((v) => v.length)).toEqual([6, 4, 1]);
        views.forEach((v, k) => {
          for (let i = 0; i < v.length; i++) v[i] = 10 * k + i;
        });
      })!;
      expect(made.map((t) => t.shape)).toEqual([[2, 3], [4], []]);
      expect(made.map((t) => Array.from(t.dataSync()))).toEqual([[0, 1, 2, 3, 4, 5], [10, 11, 12, 13], [20]]);
      expect(made.map((t) => t.dtype)).toEqual(['float32', 'float32', 'float32']);
      // the tensors own their memory: a later tensor does not overwrite them
      const other = tf.fill([64], 7);
      expect(Array.from(made[1].dataSync())).toEqual([10, 11, 12, 13]);
      tf.dispose([made, other]);
      expect(tf.memory().numTensors).toBe(before);
      expect(() =>
        hostTensors([[3]], () => {
          throw new Error('bad fill');
        }),
      ).toThrow('bad fill');
      expect(tf.memory().numTensors).toBe(before);
    });
  });
});
