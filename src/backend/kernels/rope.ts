// The kernels of the fused rotary embedding + head split (src/model/rope.ts `heads`): a projection's output
// (B·T, H·hs) goes in, rotated heads (B, H, T, hs) come out, optionally scaled (attention's 1/√hs on q), in one
// pass; the backward is the inverse rotation back to (B·T, H·hs). It replaces reshape → reverse → mul → mul → add →
// transpose → mul and their taped gradients (tfjs-wasm's Reverse alone took a large share of a training step). Pairs
// (2i, 2i+1) rotate by pos·θ^(−2i/hs) as in run.c, rounded in float32 the same way:
//   y0 = (x0·c − x1·s)·scale,   y1 = (x0·s + x1·c)·scale;   dx0 = (dy0·c + dy1·s)·scale,   dx1 = (dy1·c − dy0·s)·scale.
import type * as tf from '@tensorflow/tfjs';
import { jsKernelConfigs, runJsKernel } from './js-kernel.js';
import type { KernelSet } from './types.js';

/** The op: input x (B·T, H·hs); attrs RopeHeadsAttrs; output (B, H, T, hs). */
export const ROPE_HEADS = 'MoteRopeHeads';
const BACKWARD = 'MoteRopeHeadsGrad';
const f = Math.fround;

export interface RopeHeadsAttrs {
  B: number;
  T: number;
  H: number;
  /** Position of the first token. */
  pos: number;
  scale: number;
  /** cos and sin of every (position, pair), (maxSeqLen, hs/2) row-major. */
  cos: Float32Array;
  sin: Float32Array;
}

export const ropeKernels: KernelSet = {
  kernels: [
    ...jsKernelConfigs<RopeHeadsAttrs>({
      kernelName: ROPE_HEADS,
      inputs: ['x'],
      outputShapes: ([[, C]], { B, T, H }) => [[B, H, T, C / H]],
      compute([x], [y], [[, C]], { B, T, H, pos, scale, cos, sin }) {
        const hs = C / H;
        const half = hs / 2;
        for (let b = 0; b < B; b++)
          for (let t = 0; t < T; t++) {
            const tab = (pos + t) * half;
            for (let h = 0; h < H; h++) {
              const src = (b * T + t) * C + h * hs; // x[b·T + t, h·hs …]
              const dst = ((b * H + h) * T + t) * hs; // y[b, h, t, …]
              for (let i = 0; i < half; i++) {
                const c = cos[tab + i];
                const s = sin[tab + i];
                const x0 = x[src + 2 * i];
                const x1 = x[src + 2 * i + 1];
                const y0 = f(f(x0 * c) - f(x1 * s));
                const y1 = f(f(x0 * s) + f(x1 * c));
                y[dst + 2 * i] = scale === 1 ? y0 : y0 * scale;
                y[dst + 2 * i + 1] = scale === 1 ? y1 : y1 * scale;
              }
            }
          }
      },
    }),
    ...jsKernelConfigs<RopeHeadsAttrs>({
      kernelName: BACKWARD,
      inputs: ['dy'],
      outputShapes: ([[B, H, T, hs]]) => [[B * T, H * hs]],
      compute([dy], [dx], [[B, H, T, hs]], { pos, scale, cos, sin }) {
        const half = hs / 2;
        const C = H * hs;
        for (let b = 0; b < B; b++)
          for (let h = 0; h < H; h++)
            for (let t = 0; t < T; t++) {
              const tab = (pos + t) * half;
              const src = ((b * H + h) * T + t) * hs;
              const dst = (b * T + t) * C + h * hs;
              for (let i = 0; i < half; i++) {
                const c = cos[tab + i];
                const s = sin[tab + i];
                const g0 = dy[src + 2 * i];
                const g1 = dy[src + 2 * i + 1];
                dx[dst + 2 * i] = (g0 * c + g1 * s) * scale;
                dx[dst + 2 * i + 1] = (g1 * c - g0 * s) * scale;
              }
            }
      },
    }),
  ],
  gradients: [
    {
      kernelName: ROPE_HEADS,
      gradFunc: (dy, _saved, attrs) => ({ x: () => runJsKernel(BACKWARD, { dy: dy as tf.Tensor }, attrs) }),
    },
  ],
};
