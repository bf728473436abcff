// RMSNorm (llama2.c `rmsnorm`: eps inside the square root, then a learned gain).
import type * as tf from '@tensorflow/tfjs';
import { rmsNorm } from './fused/rms-norm.js';

export class RMSNorm {
  /** weight: (d). Frozen (trainable = false) unless the model is fully fine-tuned. */
  constructor(
    readonly weight: tf.Variable,
    readonly eps: number,
  ) {}

  /** x: (N, d) → (N, d). */
  apply(x: tf.Tensor2D): tf.Tensor2D {
    return rmsNorm(x, this.weight as tf.Tensor1D, this.eps);
  }

  dispose(): void {
    this.weight.dispose();
  }
}
