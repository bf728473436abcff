// A replacement BatchMatMul gradient. The built-in one (tfjs-core/src/gradients/BatchMatMul_grad.ts) does not
// sum over broadcast batch dims, so matMul(x[B,T,d], W[d,k]) fails in backprop, and it uses transposed
// matmuls, which XNNPACK on wasm does not run (only plain 2-D ones: a transposed product takes tfjs's slow loop).
//
// Notation: a' = op(a) is [...batchA, m, k] and b' = op(b) is [...batchB, k, n], where op transposes the
// last two dims when the forward op's transposeA / transposeB was set; dy is [...batch, m, n].
// Then da' = dy · b'ᵀ and db' = a'ᵀ · dy, summed over the batch dims that input was broadcast along.
import * as tf from '@tensorflow/tfjs';
import { GEMM_MIN_ROWS, simdSupported } from '../simd/instance.js';

/** Gradient config for `tf.registerGradient`, overriding the built-in one for every backend. */
export const batchMatMulGradConfig: tf.GradConfig = {
  kernelName: tf.BatchMatMul,
  inputsToSave: ['a', 'b'],
  gradFunc: (dy, saved, attrs) => {
    const [a, b] = saved;
    const grads = matMulGrads(dy as tf.Tensor, a, b, {
      transposeA: Boolean(attrs.transposeA),
      transposeB: Boolean(attrs.transposeB),
      // On wasm, transpose explicitly so every matmul reaches XNNPACK; elsewhere flags are as fast or faster.
      explicitTranspose: tf.getBackend() === 'wasm',
    });
    return { a: grads.da, b: grads.db };
  },
};

/** How the forward matmul was called, and how to run the backward ones. */
export interface MatMulGradOptions {
  transposeA: boolean;
  transposeB: boolean;
  /** Use tf.transpose + plain matmuls instead of the transposeA/transposeB flags. */
  explicitTranspose: boolean;
}

/** Lazy gradients of a (forward) tf.matMul(a, b, transposeA, transposeB) with respect to a and b. */
export function matMulGrads(
  dy: tf.Tensor,
  a: tf.Tensor,
  b: tf.Tensor,
  opts: MatMulGradOptions,
): { da: () => tf.Tensor; db: () => tf.Tensor } {
  if (batchSize(b) === 1) return foldIntoA(dy, a, b, opts);
  if (batchSize(a) === 1) return foldIntoB(dy, a, b, opts);
  return batched(dy, a, b, opts);
}

/**
 * b is one matrix (batch size 1), so the batch folds into a's rows: P = batch size of a and dy.
 * da' = dy[P·m, n] · b'ᵀ and db' = a'[P·m, k]ᵀ · dy[P·m, n]; the contraction over P·m is the batch sum.
 */
function foldIntoA(dy: tf.Tensor, a: tf.Tensor, b: tf.Tensor, opts: MatMulGradOptions) {
  const { transposeA: ta, transposeB: tb } = opts;
  const [m, k] = lastTwo(a, ta);
  const n = dy.shape[dy.rank - 1];
  const dy2 = tf.reshape(dy, [-1, n]); // (P·m, n)
  const b2 = tf.reshape(b, b.shape.slice(-2)); // (k, n), or (n, k) if tb
  const da = () => {
    const da2 = mm(dy2, b2, false, !tb, opts); // (P·m, k) = dy · b'ᵀ
    if (!ta) return tf.reshape(da2, a.shape);
    return tf.reshape(transposeLastTwo(tf.reshape(da2, [-1, m, k])), a.shape); // (P, k, m) → a.shape
  };
  const db = () => {
    const a2 = tf.reshape(ta ? transposeLastTwo(a) : a, [-1, k]); // (P·m, k) = a'
    const grad = tb
      ? mm(dy2, a2, true, false, opts) // (n, k) = dyᵀ · a'
      : mm(a2, dy2, true, false, opts); // (k, n) = a'ᵀ · dy
    return tf.reshape(grad, b.shape);
  };
  return { da, db };
}

/**
 * a is one matrix, b has the batch P: stack the per-batch transposes along rows instead. With D = the dy_pᵀ
 * stacked, (P·n, m), and E = the b'_pᵀ stacked, (P·n, k): da' = Dᵀ · E (the contraction over P·n is the
 * batch sum) and D · a' stacks the db'_pᵀ.
 */
function foldIntoB(dy: tf.Tensor, a: tf.Tensor, b: tf.Tensor, opts: MatMulGradOptions) {
  const { transposeA: ta, transposeB: tb } = opts;
  const [m, k] = lastTwo(a, ta);
  const [, n] = lastTwo(b, tb);
  const a2 = tf.reshape(a, a.shape.slice(-2)); // (m, k), or (k, m) if ta
  const dyT2 = tf.reshape(transposeLastTwo(dy), [-1, m]); // (P·n, m)
  const da = () => {
    const bT2 = tf.reshape(tb ? b : transposeLastTwo(b), [-1, k]); // (P·n, k) = b'ᵀ stacked
    const grad = ta
      ? mm(bT2, dyT2, true, false, opts) // (k, m) = da'ᵀ
      : mm(dyT2, bT2, true, false, opts); // (m, k) = da'
    return tf.reshape(grad, a.shape);
  };
  const db = () => {
    const dbT2 = mm(dyT2, a2, false, ta, opts); // (P·n, k) = db'ᵀ stacked
    if (tb) return tf.reshape(dbT2, b.shape);
    return tf.reshape(transposeLastTwo(tf.reshape(dbT2, [-1, n, k])), b.shape); // (P, k, n) → b.shape
  };
  return { da, db };
}

/**
 * Both sides batched: batched matmuls over the full broadcast batch, then a sum over the dims each input
 * was broadcast along. Inputs whose batch differs are broadcast explicitly first (the wasm kernel indexes
 * past a smaller batch otherwise). Slow on wasm (no XNNPACK for batch > 1), but correct.
 */
function batched(dy: tf.Tensor, a: tf.Tensor, b: tf.Tensor, opts: MatMulGradOptions) {
  const { transposeA: ta, transposeB: tb } = opts;
  const batch = dy.shape.slice(0, -2);
  const aFull = broadcastBatch(a, batch);
  const bFull = broadcastBatch(b, batch);
  const da = () => {
    const grad = ta
      ? mm(bFull, dy, tb, true, opts) // (…, k, m) = b' · dyᵀ
      : mm(dy, bFull, false, !tb, opts); // (…, m, k) = dy · b'ᵀ
    return sumTo(grad, a.shape);
  };
  const db = () => {
    const grad = tb
      ? mm(dy, aFull, true, ta, opts) // (…, n, k) = dyᵀ · a'
      : mm(aFull, dy, !ta, false, opts); // (…, k, n) = a'ᵀ · dy
    return sumTo(grad, b.shape);
  };
  return { da, db };
}

/**
 * x·y with optional transposes: flags, or explicit tf.transpose then a plain matmul. With GEMM_MIN_ROWS rows or
 * more, wasm's BatchMatMul runs the SIMD gemm (wasm-batch-matmul.ts), which reads yᵀ in place: only x is transposed.
 * Below, XNNPACK packs the right operand anew on every call, so for xᵀ·y, x (…, r, c) and y (…, r, n), the smaller
 * of the two goes on the right:
 * xᵀ·y packs y (r·n), (yᵀ·x)ᵀ packs x (r·c) and transposes y and the (…, n, c) product instead (SIMD transposes
 * are cheap). Attention's dKᵀ = Qᵀ·dS is the case: Q is (T, hs), dS (T, S); packing dS made that product several
 * times slower than the forward's products of the same size.
 */
function mm(x: tf.Tensor, y: tf.Tensor, tx: boolean, ty: boolean, opts: MatMulGradOptions): tf.Tensor {
  if (!opts.explicitTranspose) return tf.matMul(x, y, tx, ty);
  if (x.shape[x.rank - (tx ? 1 : 2)] >= GEMM_MIN_ROWS && simdSupported())
    return tf.matMul(tx ? transposeLastTwo(x) : x, y, false, ty);
  if (tx && !ty && x.rank === y.rank && x.shape[x.rank - 1] < y.shape[y.rank - 1])
    return transposeLastTwo(tf.matMul(transposeLastTwo(y), x)); // (…, n, c)ᵀ
  return tf.matMul(tx ? transposeLastTwo(x) : x, ty ? transposeLastTwo(y) : y);
}

/** Swaps the last two dims. */
function transposeLastTwo(x: tf.Tensor): tf.Tensor {
  const perm = x.shape.map((_, i) => i);
  [perm[x.rank - 2], perm[x.rank - 1]] = [perm[x.rank - 1], perm[x.rank - 2]];
  return tf.transpose(x, perm);
}

/** [rows, cols] of op(x), the matrix the forward product used. */
function lastTwo(x: tf.Tensor, transposed: boolean): [number, number] {
  const [r, c] = x.shape.slice(-2);
  return transposed ? [c, r] : [r, c];
}

/** Number of matrices in x (product of all but the last two dims). */
function batchSize(x: tf.Tensor): number {
  return tf.util.sizeFromShape(x.shape.slice(0, -2));
}

/** x with its batch dims broadcast to `batch`, materialised only when the batch size differs. */
function broadcastBatch(x: tf.Tensor, batch: number[]): tf.Tensor {
  if (batchSize(x) === tf.util.sizeFromShape(batch)) return x;
  return tf.broadcastTo(x, [...batch, ...x.shape.slice(-2)]);
}

/** Sums `grad` over the dims `shape` was broadcast along, then reshapes to `shape`. */
function sumTo(grad: tf.Tensor, shape: number[]): tf.Tensor {
  const axes = tf.backend_util.getReductionAxes(shape, grad.shape);
  return tf.reshape(axes.length > 0 ? tf.sum(grad, axes) : grad, shape);
}
