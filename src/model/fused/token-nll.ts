// Next-token cross-entropy over the vocabulary as one op with a hand-written gradient (the kernels:
// src/backend/kernels/token-nll.ts), nll[n] = logsumexp(logits[n]) − logits[n, target[n]]; composed tf ops on
// other backends. A target outside [0, V) picks nothing, as tf.oneHot's zero row does: nll 0, gradient 0.
import * as tf from '@tensorflow/tfjs';
import { jsKernelsActive } from '../../backend/kernels/backends.js';
import { runKernel } from '../../backend/kernels/run.js';
import { TOKEN_NLL } from '../../backend/kernels/token-nll.js';

/** The composed reference: logits (N, V), targets int32 (N) → −log softmax(logits)[target], (N). */
export function tokenNllComposed(logits: tf.Tensor2D, targets: tf.Tensor1D): tf.Tensor1D {
  const logp = tf.logSoftmax(logits); // (N, V)
  return tf.neg(tf.sum(tf.mul(logp, tf.oneHot(targets, logits.shape[1])), -1)) as tf.Tensor1D;
}

/** −log p(target) per token: one op with a fused gradient on wasm/cpu, composed tf ops elsewhere. */
export function tokenNllFused(logits: tf.Tensor2D, targets: tf.Tensor1D): tf.Tensor1D {
  if (!jsKernelsActive()) return tokenNllComposed(logits, targets);
  return runKernel(TOKEN_NLL, { logits, targets });
}
