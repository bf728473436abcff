// Rotary position embedding with llama2.c's pairing: dimensions (2i, 2i+1) of each head rotate together,
// by the angle pos · θ^(−2i/hs). (HF Llama pairs i with i + hs/2 instead; the HF importer permutes q/k.)
import * as tf from '@tensorflow/tfjs';

/**
 * Precomputed rotation tables for positions [0, maxSeqLen).
 * For a pair (x0, x1): out0 = x0·cos − x1·sin, out1 = x0·sin + x1·cos, written as
 * `out = x ⊙ cos2 + swap(x) ⊙ sin2` with `cos2 = (c, c)` and `sin2 = (−s, s)` per pair.
 */
export class Rope {
  /** (maxSeqLen, hs) */
  readonly cos2: tf.Tensor2D;
  /** (maxSeqLen, hs) */
  readonly sin2: tf.Tensor2D;

  constructor(
    readonly headSize: number,
    readonly maxSeqLen: number,
    theta: number,
  ) {
    const cos2 = new Float32Array(maxSeqLen * headSize);
    const sin2 = new Float32Array(maxSeqLen * headSize);
    const f = Math.fround;
    for (let pos = 0; pos < maxSeqLen; pos++) {
      for (let i = 0; i < headSize; i += 2) {
        // float32 arithmetic as in run.c, so greedy decoding matches it token for token
        const freq = f(1 / f(theta ** f(i / headSize)));
        const val = f(pos * freq);
        const c = f(Math.cos(val));
        const s = f(Math.sin(val));
        const o = pos * headSize + i;
        cos2[o] = c;
        cos2[o + 1] = c;
        sin2[o] = -s;
        sin2[o + 1] = s;
      }
    }
    this.cos2 = tf.tensor2d(cos2, [maxSeqLen, headSize]);
    this.sin2 = tf.tensor2d(sin2, [maxSeqLen, headSize]);
  }

  /** x: (B, T, H, hs) at positions [pos, pos + T) → rotated (B, T, H, hs). */
  apply(x: tf.Tensor4D, pos: number): tf.Tensor4D {
    const [B, T, H, hs] = x.shape;
    if (pos + T > this.maxSeqLen) {
      throw new Error(`sequence position ${pos + T} exceeds maxSeqLen ${this.maxSeqLen}`);
    }
    const cos = tf.reshape(tf.slice(this.cos2, [pos, 0], [T, hs]), [1, T, 1, hs]); // (1, T, 1, hs)
    const sin = tf.reshape(tf.slice(this.sin2, [pos, 0], [T, hs]), [1, T, 1, hs]); // (1, T, 1, hs)
    const pairs = tf.reshape(x, [B, T, H, hs / 2, 2]); // (B, T, H, hs/2, 2)
    const swapped = tf.reshape(tf.reverse(pairs, -1), [B, T, H, hs]); // (x1, x0) per pair
    return tf.add(tf.mul(x, cos), tf.mul(swapped, sin)) as tf.Tensor4D;
  }

  dispose(): void {
    this.cos2.dispose();
    this.sin2.dispose();
  }
}
