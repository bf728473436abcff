// Next-token cross-entropy over the vocabulary as one op with a hand-written gradient:
//   nll[n] = logsumexp(logits[n]) − logits[n, target[n]],   dlogits[n] = dnll[n]·(softmax(logits[n]) − onehot(target[n])).
// The exps run on the backend's own kernels (logSumExp forward, softmax backward: C++ on wasm, where a JS exp
// costs several times wasm's expf); the pick and the one-hot correction are one JS pass each, instead of
// logSoftmax → oneHot → mul → sum → neg and their gradients (a (N, V) one-hot and three (N, V) temporaries).
// A target outside [0, V) picks nothing, as tf.oneHot's zero row does: nll 0, gradient 0.
import * as tf from '@tensorflow/tfjs';
import { jsKernelsActive, registerJsKernel, registerOpKernel, runJsKernel } from '../../backend/js-kernel.js';

const FORWARD = 'MoteTokenNll';
const PICK = 'MoteTokenNllPick';
const BACKWARD = 'MoteTokenNllGrad';
const inRange = (t: number, V: number) => t >= 0 && t < V;

registerJsKernel<object>({
  kernelName: PICK,
  inputs: ['logits', 'lse', 'targets'],
  outputShapes: ([[N]]) => [[N]],
  compute([logits, lse, targets], [nll], [[N, V]]) {
    for (let n = 0; n < N; n++) nll[n] = inRange(targets[n], V) ? lse[n] - logits[n * V + targets[n]] : 0;
  },
});

registerJsKernel<object>({
  kernelName: BACKWARD,
  inputs: ['dy', 'p', 'targets'],
  outputShapes: ([, p]) => [p],
  compute([dy, p, targets], [dx], [, [N, V]]) {
    for (let n = 0, o = 0; n < N; n++, o += V) {
      const g = inRange(targets[n], V) ? dy[n] : 0;
      for (let j = o; j < o + V; j++) dx[j] = g * p[j];
      if (g !== 0) dx[o + targets[n]] -= g;
    }
  },
});

registerOpKernel(FORWARD, ({ logits, targets }) =>
  runJsKernel(PICK, { logits, lse: tf.logSumExp(logits, 1), targets }),
);

tf.registerGradient({
  kernelName: FORWARD,
  inputsToSave: ['logits', 'targets'],
  gradFunc: (dy, [logits, targets]) => ({
    logits: () => runJsKernel(BACKWARD, { dy: dy as tf.Tensor, p: tf.softmax(logits), targets }),
    targets: () => tf.zerosLike(targets),
  }),
});

/** The composed reference: logits (N, V), targets int32 (N) → −log softmax(logits)[target], (N). */
export function tokenNllComposed(logits: tf.Tensor2D, targets: tf.Tensor1D): tf.Tensor1D {
  const logp = tf.logSoftmax(logits); // (N, V)
  return tf.neg(tf.sum(tf.mul(logp, tf.oneHot(targets, logits.shape[1])), -1)) as tf.Tensor1D;
}

/** −log p(target) per token: one op with a fused gradient on wasm/cpu, composed tf ops elsewhere. */
export function tokenNllFused(logits: tf.Tensor2D, targets: tf.Tensor1D): tf.Tensor1D {
  if (!jsKernelsActive()) return tokenNllComposed(logits, targets);
  return tf.engine().runKernel(FORWARD, { logits, targets }) as tf.Tensor1D;
}
