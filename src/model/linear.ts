// The projection every transformer matmul goes through. Experts attach by replacing a Linear with a wrapper
// that implements LinearLike (as PEFT wraps nn.Linear), so the model itself knows nothing about experts.
import type * as tf from '@tensorflow/tfjs';
import { biasAdd } from '../backend/kernels/shape-only.js';
import { weightMatMul } from '../backend/kernels/weight-matmul.js';

/**
 * Per-forward information that a wrapped linear may read (the experts find their token routing here).
 * The model passes it through to every linear untouched, adding one key: `recompute: true` when a block's forward
 * runs again for the backward (activation checkpointing), where a linear must draw the random numbers it drew the
 * first time.
 */
export interface LinearContext {
  readonly [key: string]: unknown;
}

/** What the model calls for each projection: `(N, in) → (N, out)` on 2-D activations (the XNNPACK fast path). */
export interface LinearLike {
  readonly inFeatures: number;
  readonly outFeatures: number;
  /**
   * The base bias (out), added once after the matmul, or null/absent for a bias-free projection. It is a base
   * parameter: experts wrap the projection and keep it as it is (merged weights never include it).
   */
  readonly bias?: tf.Variable | null;
  /** Pure: allocates only tensors the caller's `tidy` owns. */
  apply(x: tf.Tensor2D, ctx?: LinearContext): tf.Tensor2D;
  /** Every variable this projection owns, by dotted name relative to the projection (`weight`, `bias`, `stepA`, …). */
  namedVariables(): Map<string, tf.Variable>;
  /**
   * The one (in, out) matrix this projection equals for tokens routed as in `ctx` (experts merged into the
   * base, PEFT-style), used by single-sequence decoding; the bias comes on top. Owned (and cached) by the linear:
   * do not dispose.
   */
  weightFor(ctx?: LinearContext): tf.Tensor2D;
  dispose(): void;
}

/** A linear layer `y = x·W (+ b)`, with W stored `(in, out)` so the forward is one plain 2-D matmul. */
export class Linear implements LinearLike {
  readonly inFeatures: number;
  readonly outFeatures: number;

  /** weight: (in, out); bias: (out) or null. Pass `trainable = false` variables for a frozen base. */
  constructor(
    readonly weight: tf.Variable,
    readonly name = 'linear',
    readonly bias: tf.Variable | null = null,
  ) {
    if (weight.rank !== 2)
      throw new Error(`${name}: weight must be 2-D (in, out), got shape [${weight.shape}]`);
    [this.inFeatures, this.outFeatures] = weight.shape as [number, number];
    if (bias && (bias.rank !== 1 || bias.shape[0] !== this.outFeatures))
      throw new Error(`${name}: bias must be (${this.outFeatures}), got shape [${bias.shape}]`);
  }

  apply(x: tf.Tensor2D): tf.Tensor2D {
    const y = weightMatMul(x, this.weight as tf.Tensor2D); // (N, out), the weight in its one copy
    return this.bias ? biasAdd(y, this.bias as tf.Tensor1D) : y; // (N, out) + (out), saving nothing
  }

  namedVariables(): Map<string, tf.Variable> {
    const out = new Map([['weight', this.weight]]);
    if (this.bias) out.set('bias', this.bias);
    return out;
  }

  weightFor(): tf.Tensor2D {
    return this.weight as tf.Tensor2D;
  }

  dispose(): void {
    this.weight.dispose();
    this.bias?.dispose();
  }
}
