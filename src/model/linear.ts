// The projection every transformer matmul goes through. Experts attach by replacing a Linear with a wrapper
// that implements LinearLike (as PEFT wraps nn.Linear), so the model itself knows nothing about experts.
import * as tf from '@tensorflow/tfjs';

/**
 * Per-forward information that a wrapped linear may read (the experts find their token routing here).
 * The model passes it through to every linear untouched.
 */
export interface LinearContext {
  readonly [key: string]: unknown;
}

/** What the model calls for each projection: `(N, in) → (N, out)` on 2-D activations (the XNNPACK fast path). */
export interface LinearLike {
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** Pure: allocates only tensors the caller's `tidy` owns. */
  apply(x: tf.Tensor2D, ctx?: LinearContext): tf.Tensor2D;
  /** Every variable this projection owns, by dotted name relative to the projection (`weight`, `stepA`, …). */
  namedVariables(): Map<string, tf.Variable>;
  /**
   * The one (in, out) matrix this projection equals for tokens routed as in `ctx` (experts merged into the
   * base, PEFT-style), used by single-sequence decoding. Owned (and cached) by the linear: do not dispose.
   */
  weightFor(ctx?: LinearContext): tf.Tensor2D;
  dispose(): void;
}

/** A bias-free linear layer `y = x·W`, with W stored `(in, out)` so the forward is one plain 2-D matmul. */
export class Linear implements LinearLike {
  readonly inFeatures: number;
  readonly outFeatures: number;

  /** weight: (in, out). Pass `trainable = false` for a frozen base weight. */
  constructor(
    readonly weight: tf.Variable,
    readonly name = 'linear',
  ) {
    if (weight.rank !== 2)
      throw new Error(`${name}: weight must be 2-D (in, out), got shape [${weight.shape}]`);
    [this.inFeatures, this.outFeatures] = weight.shape as [number, number];
  }

  apply(x: tf.Tensor2D): tf.Tensor2D {
    return tf.matMul(x, this.weight as tf.Tensor2D); // (N, out)
  }

  namedVariables(): Map<string, tf.Variable> {
    return new Map([['weight', this.weight]]);
  }

  weightFor(): tf.Tensor2D {
    return this.weight as tf.Tensor2D;
  }

  dispose(): void {
    this.weight.dispose();
  }
}
