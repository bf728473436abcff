// The fused AdamW update (src/train/optimizer.ts): one pass over a variable's parameters, gradient and moments, in
// float64 per element and rounded to float32 on store, where tfjs ops take ~14 kernels and as many temporaries.
// A JS kernel over the tensors' memory (js-kernel.ts), so on wasm and cpu only; on wasm in SIMD (backend/simd/
// adamw.wat: the same float64 operations in the same order, so the same bits, several times faster).
import { jsKernelConfigs } from './js-kernel.js';
import type { KernelSet } from './types.js';

/** The op: inputs p, g, m, v (one shape, float32); attrs AdamWAttrs; outputs [p, m, v] updated. */
export const ADAMW = 'MoteAdamW';

/**
 * Per-variable scalars of one step: decay = 1 − lr·λ, stepSize = lr/(1−β1ᵗ), sqrtBc2 = √(1−β2ᵗ); gradScale
 * multiplies the gradient first (global-norm clipping's coefficient; 1 without clipping).
 */
export interface AdamWAttrs {
  beta1: number;
  beta2: number;
  decay: number;
  stepSize: number;
  sqrtBc2: number;
  eps: number;
  gradScale: number;
  [key: string]: number;
}

/** The fused kernel's arithmetic: float64 per element, one pass, results rounded to float32 on store. */
function adamwUpdateArrays(
  p: ArrayLike<number>,
  g: ArrayLike<number>,
  m: ArrayLike<number>,
  v: ArrayLike<number>,
  out: { p: Float32Array; m: Float32Array; v: Float32Array },
  a: AdamWAttrs,
): void {
  const { beta1, beta2, decay, stepSize, sqrtBc2, eps, gradScale } = a;
  const c1 = 1 - beta1;
  const c2 = 1 - beta2;
  for (let i = 0; i < p.length; i++) {
    const gi = gradScale * g[i];
    const mi = beta1 * m[i] + c1 * gi;
    const vi = beta2 * v[i] + c2 * gi * gi;
    out.m[i] = mi;
    out.v[i] = vi;
    out.p[i] = p[i] * decay - (stepSize * mi) / (Math.sqrt(vi) / sqrtBc2 + eps);
  }
}

export const adamwKernels: KernelSet = {
  kernels: jsKernelConfigs<AdamWAttrs>({
    kernelName: ADAMW,
    inputs: ['p', 'g', 'm', 'v'],
    outputShapes: ([p]) => [[...p], [...p], [...p]],
    compute([p, g, m, v], [P, M, V], _shapes, attrs) {
      adamwUpdateArrays(p, g, m, v, { p: P, m: M, v: V }, attrs);
    },
    simd(k, [p, g, m, v], [P, M, V], [shape], a) {
      const n = shape.reduce((x, y) => x * y, 1);
      k.adamw(
        p,
        g,
        m,
        v,
        P,
        M,
        V,
        n,
        a.beta1,
        a.beta2,
        1 - a.beta1,
        1 - a.beta2,
        a.decay,
        a.stepSize,
        a.sqrtBc2,
        a.eps,
        a.gradScale,
      );
    },
  }),
};
