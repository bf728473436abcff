// The smoke computation, shared by the page (on wasm or webgpu) and the Node test (the cpu reference):
// y = relu(x·w), loss = Σ y ⊙ g, and the gradients of the loss with respect to x and w. Inputs come from a
// seeded generator, so both sides build the same tensors from the same four numbers.
import * as tf from '@tensorflow/tfjs';

/** Shapes and seed of one case: x is [m, k], w is [k, n]. */
export interface MatmulReluCase {
  m: number;
  k: number;
  n: number;
  seed: number;
}

/** y = relu(x·w) [m, n], dx [m, k], dw [k, n], flattened row-major. */
export interface MatmulReluResult {
  y: number[];
  dx: number[];
  dw: number[];
}

/** `count` values in [-1, 1) from a seeded 32-bit generator (mulberry32). */
export function seededValues(count: number, seed: number): Float32Array {
  const out = new Float32Array(count);
  let s = seed >>> 0;
  for (let i = 0; i < count; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    out[i] = ((t ^ (t >>> 14)) >>> 0) / 2 ** 31 - 1;
  }
  return out;
}

/** Runs the case on the active backend. */
export async function matmulReluGrad({ m, k, n, seed }: MatmulReluCase): Promise<MatmulReluResult> {
  const [y, dx, dw] = tf.tidy(() => {
    const x = tf.tensor2d(seededValues(m * k, seed), [m, k]);
    const w = tf.tensor2d(seededValues(k * n, seed + 1), [k, n]);
    const g = tf.tensor2d(seededValues(m * n, seed + 2), [m, n]);
    const forward = (a: tf.Tensor, b: tf.Tensor) => tf.relu(tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D)); // [m,k]·[k,n] → [m,n]
    const [gx, gw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(forward(a, b), g)))([x, w]);
    return [forward(x, w), gx, gw];
  });
  try {
    const [yv, dxv, dwv] = await Promise.all([y.data(), dx.data(), dw.data()]);
    return { y: Array.from(yv), dx: Array.from(dxv), dw: Array.from(dwv) };
  } finally {
    tf.dispose([y, dx, dw]);
  }
}
