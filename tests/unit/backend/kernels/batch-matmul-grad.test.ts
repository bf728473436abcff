import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { batchMatMulGradConfig } from '../../../../src/backend/kernels/batch-matmul-grad.js';
import { expectNoLeak } from '../../../../src/backend/memory.js';
import { expectClose, onBackend, seededNormal } from '../../../helpers/index.js';

const [m, k, n] = [3, 4, 5];

/** Batch shapes of a and b. The forward tfjs matMul supports broadcasting one side, or a suffix of the other. */
const SHAPES = [
  { name: 'rank 2 × rank 2', batchA: [], batchB: [] },
  { name: 'rank 4 × rank 2 (b broadcast, folded into rows)', batchA: [2, 3], batchB: [] },
  { name: 'rank 3 × rank 3 with b batch 1', batchA: [3], batchB: [1] },
  { name: 'rank 2 × rank 3 (a broadcast)', batchA: [], batchB: [3] },
  { name: 'rank 3 batch 1 × rank 4', batchA: [1], batchB: [2, 3] },
  { name: 'rank 3 × rank 3, same batch', batchA: [3], batchB: [3] },
  { name: 'rank 4 × rank 3 (b broadcast along the leading dim)', batchA: [2, 3], batchB: [3] },
  { name: 'rank 3 × rank 4 (a broadcast along the leading dim)', batchA: [3], batchB: [2, 3] },
];
const TRANSPOSES = [
  { ta: false, tb: false },
  { ta: false, tb: true },
  { ta: true, tb: false },
  { ta: true, tb: true },
];

describe.each(SHAPES)('BatchMatMul gradient: $name', ({ batchA, batchB }) => {
  it.each(TRANSPOSES)(
    'transposeA=$ta transposeB=$tb: wasm = cpu = finite differences',
    async ({ ta, tb }) => {
      const aShape = [...batchA, ...(ta ? [k, m] : [m, k])];
      const bShape = [...batchB, ...(tb ? [n, k] : [k, n])];
      const outShape = [...broadcastShapes(batchA, batchB), m, n];
      const a = seededNormal(aShape, `a${aShape}`).dataSync();
      const b = seededNormal(bShape, `b${bShape}`).dataSync();
      const w = seededNormal(outShape, `w${outShape}`).dataSync();

      const loss = (av: ArrayLike<number>, bv: ArrayLike<number>) =>
        dot(referenceMatMul(av, aShape, bv, bShape, ta, tb), w);
      const reference = {
        da: finiteDifferences((x) => loss(x, b), a),
        db: finiteDifferences((x) => loss(a, x), b),
      };

      const grads = async () => {
        const [da, db] = tf.tidy(() => {
          const weights = tf.tensor(w, outShape);
          const f = (x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(tf.matMul(x, y, ta, tb), weights));
          return tf.grads(f)([tf.tensor(a, aShape), tf.tensor(b, bShape)]);
        });
        expect(da.shape).toEqual(aShape);
        expect(db.shape).toEqual(bShape);
        const out = { da: await da.data(), db: await db.data() };
        tf.dispose([da, db]);
        return out;
      };
      const wasm = await onBackend('wasm', grads);
      const cpu = await onBackend('cpu', grads);
      for (const got of [wasm, cpu]) {
        expectClose(got.da, reference.da, 1e-4, 1e-4);
        expectClose(got.db, reference.db, 1e-4, 1e-4);
      }
      expectClose(wasm.da, cpu.da, 1e-4, 1e-4);
      expectClose(wasm.db, cpu.db, 1e-4, 1e-4);
    },
  );
});

describe('BatchMatMul gradient registration', () => {
  it('is ours on every backend', () => {
    expect(tf.getGradient(tf.BatchMatMul)).toBe(batchMatMulGradConfig);
  });

  it('on wasm runs only plain matmuls in the backward pass (the XNNPACK path)', async () => {
    const calls = await recordWasmMatMulFlags(() => {
      const x = seededNormal([2, 6, 8], 'x');
      const wT = seededNormal([4, 8], 'wT');
      tf.tidy(() => tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.matMul(p, q, false, true)))([x, wT]));
      tf.dispose([x, wT]);
    });
    expect(calls[0]).toEqual({ transposeA: false, transposeB: true }); // the forward op itself
    expect(calls.slice(1).length).toBeGreaterThanOrEqual(2);
    expect(calls.slice(1).every((c) => !c.transposeA && !c.transposeB)).toBe(true);
  });

  it("on wasm dKᵀ = Qᵀ·dS keeps the larger dS off XNNPACK's packed right side (= cpu)", async () => {
    // scores = Q (2, 16, 2) · Kᵀ (2, 2, 16); dKᵀ = Qᵀ·dS packs dS (16 × 16) as Qᵀ·dS, Q (16 × 2) as (dSᵀ·Q)ᵀ
    const q = seededNormal([2, 16, 2], 'q');
    const kT = seededNormal([2, 2, 16], 'kT');
    const w = seededNormal([2, 16, 16], 'w');
    const grads = () =>
      tf.tidy(() => tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(tf.matMul(x, y), w)))([q, kT]));
    const products: string[] = [];
    const wasm = await onBackend('wasm', async () => {
      const prof = await tf.profile(() => grads());
      for (const k of prof.kernels)
        if (k.name === 'BatchMatMul') products.push(JSON.stringify(k.inputShapes));
      const [dq, dkT] = grads();
      const out = [await dq.data(), await dkT.data()];
      tf.dispose([dq, dkT, ...(prof.result as tf.Tensor[])]);
      return out;
    });
    const cpu = await onBackend('cpu', async () => {
      const [dq, dkT] = grads();
      const out = [await dq.data(), await dkT.data()];
      tf.dispose([dq, dkT]);
      return out;
    });
    expect(products).toContain(
      JSON.stringify([
        [2, 16, 16],
        [2, 16, 2],
      ]),
    ); // dSᵀ·Q
    expect(products).not.toContain(
      JSON.stringify([
        [2, 2, 16],
        [2, 16, 16],
      ]),
    ); // Qᵀ·dS
    expectClose(wasm[0], cpu[0], 1e-5, 1e-5);
    expectClose(wasm[1], cpu[1], 1e-5, 1e-5);
    tf.dispose([q, kT, w]);
  });

  it('leaks no tensors', async () => {
    const x = seededNormal([2, 3, 4], 'x');
    const w = seededNormal([4, 5], 'w');
    await expectNoLeak(() =>
      tf.tidy(() => tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.matMul(p, q)))([x, w])),
    );
    tf.dispose([x, w]);
  });
});

/** Runs `fn` with the wasm BatchMatMul kernel wrapped to record its transpose flags, then restores it. */
async function recordWasmMatMulFlags(
  fn: () => void,
): Promise<{ transposeA: boolean; transposeB: boolean }[]> {
  const original = tf.getKernel(tf.BatchMatMul, 'wasm');
  const calls: { transposeA: boolean; transposeB: boolean }[] = [];
  tf.unregisterKernel(tf.BatchMatMul, 'wasm');
  tf.registerKernel({
    ...original,
    kernelFunc: (args) => {
      calls.push({
        transposeA: Boolean(args.attrs?.transposeA),
        transposeB: Boolean(args.attrs?.transposeB),
      });
      return original.kernelFunc(args);
    },
  });
  try {
    await onBackend('wasm', fn);
  } finally {
    tf.unregisterKernel(tf.BatchMatMul, 'wasm');
    tf.registerKernel(original);
  }
  return calls;
}

/** NumPy-style broadcast of two batch shapes (each dim equal, or 1). */
function broadcastShapes(x: number[], y: number[]): number[] {
  const rank = Math.max(x.length, y.length);
  const pad = (s: number[]) => [...Array(rank - s.length).fill(1), ...s];
  const [px, py] = [pad(x), pad(y)];
  return px.map((d, i) => Math.max(d, py[i]));
}

/** float64 op(a)·op(b) with broadcast batch dims, flattened in row-major order. */
function referenceMatMul(
  a: ArrayLike<number>,
  aShape: number[],
  b: ArrayLike<number>,
  bShape: number[],
  ta: boolean,
  tb: boolean,
): Float64Array {
  const batchA = aShape.slice(0, -2);
  const batchB = bShape.slice(0, -2);
  const batch = broadcastShapes(batchA, batchB);
  const nBatch = batch.reduce((p, d) => p * d, 1);
  const out = new Float64Array(nBatch * m * n);
  // Element (i, j) of op(x) for a stored matrix with `cols` columns starting at `base`.
  const at = (x: ArrayLike<number>, base: number, cols: number, t: boolean, i: number, j: number) =>
    t ? x[base + j * cols + i] : x[base + i * cols + j];
  for (let p = 0; p < nBatch; p++) {
    const aBase = batchOffset(p, batch, batchA) * m * k;
    const bBase = batchOffset(p, batch, batchB) * k * n;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let r = 0; r < k; r++) {
          s += at(a, aBase, ta ? m : k, ta, i, r) * at(b, bBase, tb ? k : n, tb, r, j);
        }
        out[(p * m + i) * n + j] = s;
      }
    }
  }
  return out;
}

/** Flat index into a (smaller, broadcast) batch shape of flat index p into the full batch shape. */
function batchOffset(p: number, full: number[], own: number[]): number {
  const padded = [...Array(full.length - own.length).fill(1), ...own];
  let offset = 0;
  let stride = 1;
  let ownStride = 1;
  for (let d = full.length - 1; d >= 0; d--) {
    const idx = Math.floor(p / stride) % full[d];
    if (padded[d] !== 1) offset += idx * ownStride;
    ownStride *= padded[d];
    stride *= full[d];
  }
  return offset;
}

function dot(x: ArrayLike<number>, y: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * y[i];
  return s;
}

/** Central differences in float64: exact up to rounding here, since the loss is linear in each input. */
function finiteDifferences(f: (x: Float64Array) => number, x0: ArrayLike<number>, h = 1e-3): Float64Array {
  const x = Float64Array.from(x0);
  const grad = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    x[i] = v + h;
    const up = f(x);
    x[i] = v - h;
    const down = f(x);
    x[i] = v;
    grad[i] = (up - down) / (2 * h);
  }
  return grad;
}
