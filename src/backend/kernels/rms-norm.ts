// The kernels of the fused RMSNorm (src/model/fused/rms-norm.ts): one pass per row forward (run.c's `rmsnorm`, in
// float32 as it rounds) and one backward, instead of square → mean → add → rsqrt → mul → mul and their taped
// gradients. For a row x with r = 1/√(mean(x²) + eps):
//   y = w ⊙ (r·x),   dx = r·(g⊙w) − x·r³·⟨g⊙w, x⟩/d,   dw = Σ_rows g ⊙ x·r.
// On wasm both run in SIMD (backend/simd/rmsnorm.wat): the forward with these bits, the backward with float32 sums
// in another order than here.
import type * as tf from '@tensorflow/tfjs';
import { jsKernelConfigs, runJsKernel } from './js-kernel.js';
import type { KernelSet } from './types.js';

/** The op: inputs x (N, d), w (d); attrs { eps }; output (N, d). */
export const RMS_NORM = 'MoteRmsNorm';
const GRAD_X = 'MoteRmsNormGradX';
const GRAD_W = 'MoteRmsNormGradW';
const f = Math.fround;

interface Attrs {
  eps: number;
}

/** 1/√(mean(x²) + eps) of row `row`, accumulated in float32 like run.c. */
function invRms(x: Float32Array | Int32Array, row: number, d: number, eps: number): number {
  let ss = 0;
  for (let j = row * d; j < (row + 1) * d; j++) ss = f(ss + f(x[j] * x[j]));
  return f(1 / f(Math.sqrt(f(f(ss / d) + eps))));
}

export const rmsNormKernels: KernelSet = {
  kernels: [
    ...jsKernelConfigs<Attrs>({
      kernelName: RMS_NORM,
      inputs: ['x', 'w'],
      outputShapes: ([x]) => [x],
      compute([x, w], [y], [[N, d]], { eps }) {
        for (let n = 0; n < N; n++) {
          const r = invRms(x, n, d, eps);
          for (let j = 0, o = n * d; j < d; j++, o++) y[o] = f(w[j] * f(r * x[o]));
        }
      },
      simd(k, [x, w], [y], [[N, d]], { eps }) {
        k.rms_norm(y, x, w, N, d, eps);
      },
    }),
    ...jsKernelConfigs<Attrs>({
      kernelName: GRAD_X,
      inputs: ['dy', 'x', 'w'],
      outputShapes: ([dy]) => [dy],
      compute([dy, x, w], [dx], [[N, d]], { eps }) {
        for (let n = 0; n < N; n++) {
          const r = invRms(x, n, d, eps);
          const o = n * d;
          let dot = 0;
          for (let j = 0; j < d; j++) dot += dy[o + j] * w[j] * x[o + j];
          const c = (r * r * r * dot) / d;
          for (let j = 0; j < d; j++) dx[o + j] = r * dy[o + j] * w[j] - c * x[o + j];
        }
      },
      simd(k, [dy, x, w], [dx], [[N, d]], { eps }) {
        k.rms_norm_grad_x(dx, dy, x, w, N, d, eps);
      },
    }),
    ...jsKernelConfigs<Attrs>({
      kernelName: GRAD_W,
      inputs: ['dy', 'x'],
      outputShapes: ([dy]) => [[dy[1]]],
      compute([dy, x], [dw], [[N, d]], { eps }) {
        const acc = new Float64Array(d);
        for (let n = 0; n < N; n++) {
          const r = invRms(x, n, d, eps);
          for (let j = 0, o = n * d; j < d; j++, o++) acc[j] += dy[o] * x[o] * r;
        }
        dw.set(acc);
      },
      simd(k, [dy, x], [dw], [[N, d]], { eps }) {
        k.rms_norm_grad_w(dw, dy, x, N, d, eps);
      },
    }),
  ],
  gradients: [
    {
      kernelName: RMS_NORM,
      inputsToSave: ['x', 'w'],
      gradFunc: (dy, [x, w], attrs) => ({
        x: () => runJsKernel(GRAD_X, { dy: dy as tf.Tensor, x, w }, attrs),
        w: () => runJsKernel(GRAD_W, { dy: dy as tf.Tensor, x }, attrs),
      }),
    },
  ],
};
