// Next-token loss: per-token negative log-likelihood, so a trainer can mask and average it as it needs
// (chain tokens only, per step type).
import * as tf from '@tensorflow/tfjs';
import { tokenNllFused } from './fused/token-nll.js';

/**
 * logits (N, V), targets int32 (N) → −log p(target) per token, (N); a target outside [0, V) gives 0. One fused
 * kernel on wasm/cpu (fused/token-nll.ts). Pure: call inside a tidy.
 */
export function tokenNll(logits: tf.Tensor2D, targets: tf.Tensor1D): tf.Tensor1D {
  return tokenNllFused(logits, targets);
}

/** Mean NLL over the tokens whose mask is 1 (mask (N), 0/1 floats); 0 when the mask is empty. */
export function maskedMeanNll(nll: tf.Tensor1D, mask: tf.Tensor1D): tf.Scalar {
  const count = tf.maximum(tf.sum(mask), 1);
  return tf.div(tf.sum(tf.mul(nll, mask)), count) as tf.Scalar;
}
