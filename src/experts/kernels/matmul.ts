// a·bᵀ for hand-written backwards. XNNPACK (wasm) runs only plain matmuls: transpose flags cost 10–100× there
// (tfjs-notes trap 2; here x·Wᵀ by flag took 651 ms against 47 ms plain), so on wasm b (small here) is
// transposed explicitly. Other backends take the flag (explicit transposes are 5–15% slower on cpu).
import * as tf from '@tensorflow/tfjs';

const explicit = () => tf.getBackend() === 'wasm';

/** a·bᵀ: (m, k)·(n, k)ᵀ → (m, n). */
export function matMulBT(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  return explicit() ? tf.matMul(a, tf.transpose(b)) : tf.matMul(a, b, false, true);
}
