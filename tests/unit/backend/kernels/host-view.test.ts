// hostView (src/backend/kernels/js-kernel.ts): a float32 tensor's values read in place on wasm and cpu, else null.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { hostView } from '../../../../src/backend/kernels/js-kernel.js';
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
