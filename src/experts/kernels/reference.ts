// The readable specification: a plain loop over experts, each applied to every token and masked by its routing
// weight column. Slow (computes every expert for every token); tests hold the other kernels to it.
import * as tf from '@tensorflow/tfjs';
import type { MixInput, MixKernel, Routing } from './types.js';

/** Routing weights (N, E): the route's one-hot for step routing, the gate's weights for top-k. */
export function routingWeights(routing: Routing, N: number): tf.Tensor2D | null {
  if (routing.kind === 'step') return routing.route.oneHot(N);
  if (routing.kind === 'topk') return routing.weights;
  return null;
}

export const referenceKernel: MixKernel = {
  name: 'reference',
  mix(m: MixInput): tf.Tensor2D {
    const { x, xl, rank: r } = m;
    const [N, inF] = x.shape;
    const outF = m.w0.shape[1];
    let y = tf.matMul(x, m.w0); // (N, out)
    if (m.sharedA && m.sharedB) {
      const shared = tf.matMul(tf.matMul(xl, m.sharedA), m.sharedB); // (N, r)·(r, out)
      y = tf.add(y, tf.mul(shared, m.sharedCoef));
    }
    const w = routingWeights(m.routing, N);
    if (w && m.stepA && m.stepB) {
      for (let e = 0; e < m.numExperts; e++) {
        const A = tf.slice(m.stepA, [0, e * r], [inF, r]); // (in, r)
        const B = tf.slice(m.stepB, [e * r, 0], [r, outF]); // (r, out)
        const delta = tf.matMul(tf.matMul(xl, A), B); // (N, out)
        const we = tf.slice(w, [0, e], [N, 1]); // (N, 1)
        y = tf.add(y, tf.mul(delta, tf.mul(we, m.stepCoef)));
      }
    }
    return y as tf.Tensor2D;
  },
};
