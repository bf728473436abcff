// The row moves of the segmented mixing (src/backend/kernels/segmented-rows.ts) equal tf.gather / a host scatter.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import {
  gatherRowsAt,
  gatherSegmentT,
  scatterRowsAt,
  stackBlocks,
} from '../../../../src/backend/kernels/segmented-rows.js';
import { planFromStepIds } from '../../../../src/experts/kernels/plan.js';
import { onBackend, seededNormal } from '../../../helpers/index.js';

describe('gatherSegmentT on wasm', () => {
  it("is the segment's rows transposed, for scattered, contiguous and whole segments", async () => {
    await onBackend('wasm', () => {
      const x = seededNormal([9, 6], 'seg-t') as tf.Tensor2D;
      const plan = planFromStepIds(Int32Array.from([0, 1, 1, 0, 2, 2, 2, 0, 1]), 3, false);
      const whole = planFromStepIds(new Int32Array(9), 1, false);
      for (const seg of [...plan.segments, ...whole.segments]) {
        const got = gatherSegmentT(x, seg);
        const want = tf.transpose(tf.gather(x, Array.from(seg.rows)));
        expect(got.shape).toEqual([6, seg.rows.length]);
        expect(Array.from(got.dataSync())).toEqual(Array.from(want.dataSync()));
        tf.dispose([got, want]);
      }
      x.dispose();
    });
  });
});

describe('the column gather on wasm (gatherSegmentT without SIMD)', () => {
  it('equals tf.gather along columns, runs and scattered columns alike', async () => {
    await onBackend('wasm', () => {
      const x = seededNormal([5, 9], 'cols') as tf.Tensor2D;
      for (const cols of [[0, 1, 2, 6, 4, 5, 8], [3], [8, 7, 0]]) {
        const got = tf.engine().runKernel('MoteGatherCols', { x }, {
          cols: Int32Array.from(cols),
        } as unknown as tf.NamedAttrMap) as tf.Tensor;
        const want = tf.gather(x, cols, 1);
        expect(got.shape).toEqual([5, cols.length]);
        expect(Array.from(got.dataSync())).toEqual(Array.from(want.dataSync()));
        tf.dispose([got, want]);
      }
      x.dispose();
    });
  });
});

describe('stackBlocks on wasm', () => {
  it('stacks column and row blocks, sums pieces in order, and zero-fills a block without pieces', async () => {
    await onBackend('wasm', () => {
      const a = seededNormal([5, 6], 'blocks-a') as tf.Tensor2D; // (5, 3 blocks of 2)
      const b = seededNormal([5, 4], 'blocks-b') as tf.Tensor2D;
      const cols = stackBlocks([a, b], 1, [
        { size: 2, pieces: [[1, 2]] },
        {
          size: 2,
          pieces: [
            [0, 4],
            [1, 0],
            [0, 0],
          ],
        },
        { size: 2, pieces: [] },
      ]);
      const wantCols = tf.tidy(() =>
        tf.concat(
          [
            tf.slice(b, [0, 2], [-1, 2]),
            tf.add(
              tf.add(tf.slice(a, [0, 4], [-1, 2]), tf.slice(b, [0, 0], [-1, 2])),
              tf.slice(a, [0, 0], [-1, 2]),
            ),
            tf.zeros([5, 2]),
          ],
          1,
        ),
      );
      expect(cols.shape).toEqual([5, 6]);
      expect(Array.from(cols.dataSync())).toEqual(Array.from(wantCols.dataSync()));
      const [aT, bT] = [tf.transpose(a), tf.transpose(b)] as tf.Tensor2D[]; // (6, 5), (4, 5)
      const rowsOut = stackBlocks([aT, bT], 0, [
        {
          size: 2,
          pieces: [
            [0, 2],
            [1, 2],
          ],
        },
        { size: 3, pieces: [] },
        { size: 1, pieces: [[0, 5]] },
      ]);
      const wantRows = tf.tidy(() =>
        tf.concat(
          [
            tf.add(tf.slice(aT, [2, 0], [2, -1]), tf.slice(bT, [2, 0], [2, -1])),
            tf.zeros([3, 5]),
            tf.slice(aT, [5, 0], [1, -1]),
          ],
          0,
        ),
      );
      expect(rowsOut.shape).toEqual([6, 5]);
      expect(Array.from(rowsOut.dataSync())).toEqual(Array.from(wantRows.dataSync()));
      tf.dispose([a, b, cols, wantCols, rowsOut, wantRows, aT, bT]);
    });
  });

  it('moves wide column blocks (four floats at a time and a tail) the same way', async () => {
    await onBackend('wasm', () => {
      const a = seededNormal([3, 14], 'wide-a') as tf.Tensor2D;
      const b = seededNormal([3, 7], 'wide-b') as tf.Tensor2D;
      const out = stackBlocks([a, b], 1, [
        {
          size: 7,
          pieces: [
            [0, 7],
            [1, 0],
          ],
        },
        { size: 6, pieces: [[0, 1]] },
      ]);
      const want = tf.tidy(() =>
        tf.concat([tf.add(tf.slice(a, [0, 7], [-1, 7]), b), tf.slice(a, [0, 1], [-1, 6])], 1),
      );
      expect(Array.from(out.dataSync())).toEqual(Array.from(want.dataSync()));
      tf.dispose([a, b, out, want]);
    });
  });
});

describe.each(['wasm', 'cpu'])('row moves on %s', (backend) => {
  it('gather equals tf.gather, runs and scattered rows alike', async () => {
    await onBackend(backend, () => {
      const x = seededNormal([9, 5], 'rows') as tf.Tensor2D;
      const rows = Int32Array.from([2, 3, 4, 0, 8, 7]);
      const got = gatherRowsAt(x, rows);
      const want = tf.gather(x, Array.from(rows));
      expect(Array.from(got.dataSync())).toEqual(Array.from(want.dataSync()));
      tf.dispose([x, got, want]);
    });
  });

  it('scatter writes each part at its rows and zeros elsewhere', async () => {
    await onBackend(backend, () => {
      const a = tf.tensor2d([1, 2, 3, 4], [2, 2]);
      const b = tf.tensor2d([5, 6], [1, 2]);
      const out = scatterRowsAt([a, b], [Int32Array.from([3, 0]), Int32Array.from([1])], 5);
      expect(out.arraySync()).toEqual([
        [3, 4],
        [5, 6],
        [0, 0],
        [1, 2],
        [0, 0],
      ]);
      tf.dispose([a, b, out]);
    });
  });
});
