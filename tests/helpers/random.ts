// Seeded random tensors, without Node imports (browser test pages use them too).
import * as tf from '@tensorflow/tfjs';
import seedrandom from 'seedrandom';

/** Deterministic normal(0, std) tensor from a string seed. */
export function seededNormal(shape: number[], seed: string, std = 1): tf.Tensor {
  const rng = seedrandom(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = Math.max(rng(), 1e-12);
    const r = Math.sqrt(-2 * Math.log(u)) * std;
    const t = 2 * Math.PI * rng();
    v[i] = r * Math.cos(t);
    if (i + 1 < n) v[i + 1] = r * Math.sin(t);
  }
  return tf.tensor(v, shape);
}
