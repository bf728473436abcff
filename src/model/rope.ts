// Rotary position embedding with llama2.c's pairing: dimensions (2i, 2i+1) of each head rotate together,
// by the angle pos · ω_i, ω_i = θ^(−2i/hs) optionally rescaled (ropeInverseFrequencies). (HF Llama pairs i with
// i + hs/2 instead; the HF importer permutes q/k.)
import * as tf from '@tensorflow/tfjs';
import { jsKernelsActive } from '../backend/kernels/backends.js';
import type { RopeScaling } from './config.js';
import { ropeHeadsFused } from './fused/rope.js';

const f = Math.fround;

/**
 * The inverse frequencies ω_i (i < hs/2) of every rotated pair: the one place RoPE scaling is applied.
 *   default: ω_i = 1 / θ^(2i/hs)
 *   linear:  ω_i / factor
 *   llama3:  wavelength λ_i = 2π/ω_i and L the original context; λ_i < L/high: ω_i; λ_i > L/low: ω_i / factor;
 *            otherwise (1 − s)·ω_i/factor + s·ω_i with s = (L/λ_i − low) / (high − low).
 * Rounded to float32 after every operation, in the order transformers' `modeling_rope_utils.py` evaluates them on
 * float32 tensors (a Python scalar becomes float32; `c / t` is `t.reciprocal() * c`), as run.c does for default.
 */
export function ropeInverseFrequencies(
  headSize: number,
  theta: number,
  scaling: RopeScaling | null = null,
): Float32Array {
  const out = new Float32Array(headSize / 2);
  for (let i = 0; i < headSize / 2; i++) out[i] = f(1 / f(f(theta) ** f((2 * i) / headSize)));
  if (scaling === null) return out;
  const factor = f(scaling.factor);
  if (scaling.type === 'linear') return out.map((w) => f(w / factor));
  const { lowFreqFactor: low, highFreqFactor: high, originalMaxPositions: L } = scaling;
  const lowFreqWavelen = f(L / low); // longer wavelengths than this are divided by `factor`
  const highFreqWavelen = f(L / high); // shorter ones are kept
  return out.map((w) => {
    const wavelen = f(f(1 / w) * f(2 * Math.PI));
    if (wavelen > lowFreqWavelen) return f(w / factor);
    if (wavelen < highFreqWavelen) return w;
    const smooth = f(f(f(f(1 / wavelen) * f(L)) - f(low)) / f(high - low));
    return f(f(f(f(1 - smooth) * w) / factor) + f(smooth * w));
  });
}

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
    scaling: RopeScaling | null = null,
  ) {
    const cos2 = new Float32Array(maxSeqLen * headSize);
    const sin2 = new Float32Array(maxSeqLen * headSize);
    const freqs = ropeInverseFrequencies(headSize, theta, scaling);
    for (let pos = 0; pos < maxSeqLen; pos++) {
      for (let i = 0; i < headSize; i += 2) {
        // float32 arithmetic as in run.c, so greedy decoding matches it token for token
        const val = f(pos * freqs[i / 2]);
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

  /**
   * A projection's output x (B·T, H·hs) at positions [pos, pos + T) → rotated heads (B, H, T, hs), times `scale`.
   * One fused kernel on wasm/cpu (fused/rope.ts); `apply` + transpose elsewhere.
   */
  heads(x: tf.Tensor2D, B: number, T: number, H: number, pos: number, scale = 1): tf.Tensor4D {
    this.checkRange(pos, T);
    if (jsKernelsActive()) return ropeHeadsFused(x, this.cos2, this.sin2, { B, T, H, pos, scale });
    const rotated = this.apply(tf.reshape(x, [B, T, H, this.headSize]) as tf.Tensor4D, pos); // (B, T, H, hs)
    const heads = tf.transpose(rotated, [0, 2, 1, 3]) as tf.Tensor4D; // (B, H, T, hs)
    return scale === 1 ? heads : tf.mul(heads, scale);
  }

  /**
   * One token per row, each at its own position (rows of one KV cache that hold sequences of different lengths):
   * x (B, H·hs) → rotated heads (B, H, 1, hs) × scale, B = positions.length. On wasm/cpu the fused kernel rotates
   * them as one sequence of B tokens whose table rows are the rows' positions, so every row is rotated exactly as
   * it would be alone.
   */
  headsAt(x: tf.Tensor2D, H: number, positions: readonly number[], scale = 1): tf.Tensor4D {
    const B = positions.length;
    const hs = this.headSize;
    const half = hs / 2;
    for (const p of positions) {
      if (!Number.isInteger(p) || p < 0) throw new Error(`RoPE position ${p}: expected an integer ≥ 0`);
      this.checkRange(p, 1);
    }
    if (jsKernelsActive())
      return tf.tidy(() => {
        const at = tf.tensor1d(positions as number[], 'int32');
        const [cos, sin] = [this.cos2, this.sin2].map((t) => tf.gather(t, at) as tf.Tensor2D); // (B, hs) each
        const y = ropeHeadsFused(x, cos, sin, { B: 1, T: B, H, pos: 0, scale }); // (1, H, B, hs)
        return tf.transpose(y, [2, 1, 0, 3]) as tf.Tensor4D; // (B, H, 1, hs)
      });
    const at = tf.tensor1d(positions as number[], 'int32');
    const cos = tf.reshape(tf.gather(this.cos2, at), [B, 1, 1, hs]); // (B, 1, 1, hs)
    const sin = tf.reshape(tf.gather(this.sin2, at), [B, 1, 1, hs]);
    const xr = tf.reshape(x, [B, 1, H, hs]); // (B, 1, H, hs)
    const swapped = tf.reshape(tf.reverse(tf.reshape(xr, [B, 1, H, half, 2]), -1), [B, 1, H, hs]); // (x1, x0) per pair
    const rotated = tf.add(tf.mul(xr, cos), tf.mul(swapped, sin)); // (B, 1, H, hs)
    const heads = tf.transpose(rotated, [0, 2, 1, 3]) as tf.Tensor4D; // (B, H, 1, hs)
    return scale === 1 ? heads : tf.mul(heads, scale);
  }

  /** x: (B, T, H, hs) at positions [pos, pos + T) → rotated (B, T, H, hs), in composed tf ops. */
  apply(x: tf.Tensor4D, pos: number): tf.Tensor4D {
    const [B, T, H, hs] = x.shape;
    this.checkRange(pos, T);
    const cos = tf.reshape(tf.slice(this.cos2, [pos, 0], [T, hs]), [1, T, 1, hs]); // (1, T, 1, hs)
    const sin = tf.reshape(tf.slice(this.sin2, [pos, 0], [T, hs]), [1, T, 1, hs]); // (1, T, 1, hs)
    const pairs = tf.reshape(x, [B, T, H, hs / 2, 2]); // (B, T, H, hs/2, 2)
    const swapped = tf.reshape(tf.reverse(pairs, -1), [B, T, H, hs]); // (x1, x0) per pair
    return tf.add(tf.mul(x, cos), tf.mul(swapped, sin)) as tf.Tensor4D;
  }

  private checkRange(pos: number, T: number): void {
    if (pos + T > this.maxSeqLen) {
      throw new Error(`sequence position ${pos + T} exceeds maxSeqLen ${this.maxSeqLen}`);
    }
  }

  dispose(): void {
    this.cos2.dispose();
    this.sin2.dispose();
  }
}
