// 2-D products with a transposed operand, for hand-written backwards. XNNPACK (wasm) runs only plain matmuls:
// transpose flags cost 10–100× there (tfjs-notes trap 2; here x·Wᵀ by flag took 651 ms against 47 ms plain), so
// on wasm the smaller operand is transposed explicitly. Other backends take the flags (explicit transposes are
// 5–15% slower on cpu).
import * as tf from '@tensorflow/tfjs';

const explicit = () => tf.getBackend() === 'wasm';

/** a·bᵀ: (m, k)·(n, k)ᵀ → (m, n). */
export function matMulBT(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  return explicit() ? tf.matMul(a, tf.transpose(b)) : tf.matMul(a, b, false, true);
}

/** aᵀ·b: (k, m)ᵀ·(k, n) → (m, n). On wasm transposes a, or computes (bᵀ·a)ᵀ when that moves fewer elements. */
export function matMulAT(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  if (!explicit()) return tf.matMul(a, b, true, false);
  const [k, m] = a.shape;
  const n = b.shape[1];
  if (k * m <= k * n + m * n) return tf.matMul(tf.transpose(a), b); // (m, k)·(k, n)
  return tf.transpose(tf.matMul(tf.transpose(b), a)) as tf.Tensor2D; // ((n, k)·(k, m))ᵀ
}
