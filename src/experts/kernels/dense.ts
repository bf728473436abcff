// Dense mixing (Poly / X-LoRA style, style.md §3.6): every expert's A in one matmul x̃·[A_1|…|A_E|A_sh], the rank
// blocks scaled per token by a coefficient matrix (zero for experts the token does not use), one matmul by
// [B_1;…;B_E;B_sh]. Plain tf ops, so autodiff gives the backward; costs (E+1)/2× the adapter FLOPs of segmented.
import * as tf from '@tensorflow/tfjs';
import { weightMatMul } from '../../backend/kernels/weight-matmul.js';
import type { MixInput, MixKernel } from './types.js';

/**
 * Coefficients (N, K) over the stacked rank blocks [step experts | shared]: stepCoef·w_{t,e} on expert e's block,
 * sharedCoef on the shared block. Built on the host once per route for step routing; from the gate for top-k.
 */
function coefficients(m: MixInput, N: number): tf.Tensor2D | number {
  const { rank: r, numExperts: E, stepCoef, sharedCoef, routing } = m;
  const hasStep = m.stepA !== null && routing.kind !== 'none';
  const hasShared = m.sharedA !== null;
  if (!hasStep) return sharedCoef;
  const K = (E + (hasShared ? 1 : 0)) * r;
  if (routing.kind === 'step') {
    const { route } = routing;
    const key = `dense:${N}:${E}:${r}:${stepCoef}:${hasShared ? sharedCoef : 'none'}`;
    return route.cached(key, () => {
      const ids = route.stepIdsFor(N);
      const c = new Float32Array(N * K);
      for (let t = 0; t < N; t++) {
        const s = ids[t];
        if (s >= 0) c.fill(stepCoef, t * K + s * r, t * K + (s + 1) * r);
        if (hasShared) c.fill(sharedCoef, t * K + E * r, t * K + K);
      }
      return tf.tensor2d(c, [N, K]);
    });
  }
  if (routing.kind !== 'topk') throw new Error('dense: unreachable routing');
  const w = tf.reshape(routing.weights, [N, E, 1]); // (N, E, 1)
  const step = tf.reshape(tf.mul(w, tf.fill([1, 1, r], stepCoef)), [N, E * r]); // (N, E·r)
  return (hasShared ? tf.concat([step, tf.fill([N, r], sharedCoef)], 1) : step) as tf.Tensor2D;
}

export const denseKernel: MixKernel = {
  name: 'dense',
  mix(m: MixInput): tf.Tensor2D {
    const N = m.x.shape[0];
    const base = weightMatMul(m.x, m.w0); // (N, out), W0 in its one copy
    const useStep = m.stepA !== null && m.stepB !== null && m.routing.kind !== 'none';
    const As = [...(useStep ? [m.stepA!] : []), ...(m.sharedA ? [m.sharedA] : [])];
    const Bs = [...(useStep ? [m.stepB!] : []), ...(m.sharedB ? [m.sharedB] : [])];
    if (As.length === 0) return base;
    const A = As.length > 1 ? tf.concat(As, 1) : As[0]; // (in, K)
    const B = Bs.length > 1 ? tf.concat(Bs, 0) : Bs[0]; // (K, out)
    const g = tf.mul(tf.matMul(m.xl, A), coefficients(m, N)) as tf.Tensor2D; // (N, K)
    return tf.add(base, tf.matMul(g, B)) as tf.Tensor2D; // (N, out)
  },
};
