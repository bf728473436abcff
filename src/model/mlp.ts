// The SwiGLU feed-forward of Llama (llama2.c: w2(silu(w1·x) ⊙ w3·x)); gate = w1, up = w3, down = w2.
import type * as tf from '@tensorflow/tfjs';
import { swiglu } from '../backend/kernels/swiglu.js';
import type { LinearContext, LinearLike } from './linear.js';

export class Mlp {
  constructor(
    public gate: LinearLike,
    public up: LinearLike,
    public down: LinearLike,
  ) {}

  /** x: (N, d) → (N, d) through (N, hidden). */
  apply(x: tf.Tensor2D, ctx?: LinearContext): tf.Tensor2D {
    const g = this.gate.apply(x, ctx); // (N, hidden)
    return this.down.apply(swiglu(g, this.up.apply(x, ctx)), ctx); // silu(g) ⊙ up (N, hidden) → (N, d)
  }
}
