// RMSNorm (llama2.c `rmsnorm`: eps inside the square root, then a learned gain).
import * as tf from '@tensorflow/tfjs';

export class RMSNorm {
  /** weight: (d). Frozen (trainable = false) unless the model is fully fine-tuned. */
  constructor(
    readonly weight: tf.Variable,
    readonly eps: number,
  ) {}

  /** x: (N, d) → (N, d). */
  apply(x: tf.Tensor2D): tf.Tensor2D {
    const ms = tf.mean(tf.square(x), -1, true); // (N, 1)
    return tf.mul(tf.mul(x, tf.rsqrt(tf.add(ms, this.eps))), this.weight) as tf.Tensor2D;
  }

  dispose(): void {
    this.weight.dispose();
  }
}
