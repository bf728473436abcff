// Fused rotary embedding + head split (the kernels: src/backend/kernels/rope.ts): a projection's output
// (B·T, H·hs) goes in, rotated heads (B, H, T, hs) come out, optionally scaled, in one pass. Rope.heads calls it on
// wasm/cpu and composes tf ops elsewhere.
import type * as tf from '@tensorflow/tfjs';
import { ROPE_HEADS, type RopeHeadsAttrs } from '../../backend/kernels/rope.js';
import { runKernel } from '../../backend/kernels/run.js';

/**
 * x (B·T, H·hs) → rotated heads (B, H, T, hs) × scale, token t at row attrs.pos + t of the tables cos2 = (c, c) and
 * sin2 = (−s, s) per pair (rows, hs), on a backend with JS kernels (wasm, cpu).
 */
export function ropeHeadsFused(
  x: tf.Tensor2D,
  cos2: tf.Tensor2D,
  sin2: tf.Tensor2D,
  attrs: RopeHeadsAttrs,
): tf.Tensor4D {
  return runKernel(ROPE_HEADS, { x, cos2, sin2 }, attrs);
}
