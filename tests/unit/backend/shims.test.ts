import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { batchMatMulGradConfig } from '../../../src/backend/batch-matmul-grad.js';
import { installShims } from '../../../src/backend/index.js';
import { unsortedSegmentSumWasmConfig } from '../../../src/backend/unsorted-segment-sum.js';

describe('installShims', () => {
  it('ran when the backend layer was imported, and is idempotent', () => {
    const first = installShims();
    expect(first).toEqual({ unsortedSegmentSumWasm: 'installed', batchMatMulGrad: 'installed' });
    expect(installShims()).toBe(first);
    expect(tf.getKernel(tf.UnsortedSegmentSum, 'wasm')).toBe(unsortedSegmentSumWasmConfig);
    expect(tf.getGradient(tf.BatchMatMul)).toBe(batchMatMulGradConfig);
  });
});
