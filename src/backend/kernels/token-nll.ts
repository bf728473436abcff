// The kernels of the next-token cross-entropy as one op with a hand-written gradient (src/model/fused/token-nll.ts):
//   nll[n] = logsumexp(logits[n]) − logits[n, target[n]],   dlogits[n] = dnll[n]·(softmax(logits[n]) − onehot(target[n])).
// The exps run on the backend's own kernels (logSumExp forward, softmax backward: C++ on wasm, where a JS exp
// costs several times wasm's expf); the pick and the one-hot correction are one JS pass each, instead of
// logSoftmax → oneHot → mul → sum → neg and their gradients (a (N, V) one-hot and three (N, V) temporaries).
// A target outside [0, V) picks nothing, as tf.oneHot's zero row does: nll 0, gradient 0.
import * as tf from '@tensorflow/tfjs';
import { jsKernelConfigs, opKernelConfigs, runJsKernel } from './js-kernel.js';
import type { KernelSet } from './types.js';

/** The op: inputs logits (N, V), targets int32 (N); output (N). */
export const TOKEN_NLL = 'MoteTokenNll';
const PICK = 'MoteTokenNllPick';
const BACKWARD = 'MoteTokenNllGrad';
const inRange = (t: number, V: number) => t >= 0 && t < V;

export const tokenNllKernels: KernelSet = {
  kernels: [
    ...jsKernelConfigs<object>({
      kernelName: PICK,
      inputs: ['logits', 'lse', 'targets'],
      outputShapes: ([[N]]) => [[N]],
      compute([logits, lse, targets], [nll], [[N, V]]) {
        for (let n = 0; n < N; n++) nll[n] = inRange(targets[n], V) ? lse[n] - logits[n * V + targets[n]] : 0;
      },
    }),
    ...jsKernelConfigs<object>({
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
    }),
    ...opKernelConfigs(TOKEN_NLL, ({ logits, targets }) =>
      runJsKernel(PICK, { logits, lse: tf.logSumExp(logits, 1), targets }),
    ),
  ],
  gradients: [
    {
      kernelName: TOKEN_NLL,
      inputsToSave: ['logits', 'targets'],
      gradFunc: (dy, [logits, targets]) => ({
        logits: () => runJsKernel(BACKWARD, { dy: dy as tf.Tensor, p: tf.softmax(logits), targets }),
        targets: () => tf.zerosLike(targets),
      }),
    },
  ],
};
