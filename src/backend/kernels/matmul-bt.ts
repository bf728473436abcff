// a·bᵀ for hand-written backwards (segmented-mix.ts). XNNPACK (wasm) runs only plain matmuls: a transpose flag
// sends the product to tfjs's slow loop (tfjs-notes trap 2), so on wasm b (small here) is transposed explicitly.
// Other backends take the flag (explicit transposes are slower on cpu).
import * as tf from '@tensorflow/tfjs';

const explicit = () => tf.getBackend() === 'wasm';

/** a·bᵀ: (m, k)·(n, k)ᵀ → (m, n). */
export function matMulBT(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  return explicit() ? tf.matMul(a, tf.transpose(b)) : tf.matMul(a, b, false, true);
}
