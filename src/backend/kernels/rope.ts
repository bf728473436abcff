// The kernels of the fused rotary embedding + head split (src/model/rope.ts `heads`): a projection's output
// (B·T, H·hs) goes in, rotated heads (B, H, T, hs) come out, optionally scaled (attention's 1/√hs on q), in one
// pass; the backward is the inverse rotation back to (B·T, H·hs). It replaces reshape → reverse → mul → mul → add →
// transpose → mul and their taped gradients (tfjs-wasm's Reverse alone took a large share of a training step). Pairs
// (2i, 2i+1) rotate by pos·θ^(−2i/hs) as in run.c, rounded in float32 the same way:
//   y0 = (x0·c − x1·s)·scale,   y1 = (x0·s + x1·c)·scale;   dx0 = (dy0·c + dy1·s)·scale,   dx1 = (dy1·c − dy0·s)·scale.
// The tables are inputs, the Rope's cos2 = (c, c) and sin2 = (−s, s) per pair, (rows, hs), token t at row pos + t;
// on wasm both directions run in SIMD (backend/simd/rope.wat), the forward with the JS kernel's bits.
import type * as tf from '@tensorflow/tfjs';
import { jsKernelConfigs, runJsKernel } from './js-kernel.js';
import type { KernelSet } from './types.js';

/** The op: inputs x (B·T, H·hs) and the tables cos2, sin2 (rows, hs); attrs RopeHeadsAttrs; output (B, H, T, hs). */
export const ROPE_HEADS = 'MoteRopeHeads';
const BACKWARD = 'MoteRopeHeadsGrad';
const f = Math.fround;

export interface RopeHeadsAttrs {
  B: number;
  T: number;
  H: number;
  /** Table row of the first token. */
  pos: number;
  scale: number;
}

export const ropeKernels: KernelSet = {
  kernels: [
    ...jsKernelConfigs<RopeHeadsAttrs>({
      kernelName: ROPE_HEADS,
      inputs: ['x', 'cos2', 'sin2'],
      outputShapes: ([[, C]], { B, T, H }) => [[B, H, T, C / H]],
      compute([x, cos2, sin2], [y], [[, C]], { B, T, H, pos, scale }) {
        const hs = C / H;
        for (let b = 0; b < B; b++)
          for (let t = 0; t < T; t++) {
            const tab = (pos + t) * hs;
            for (let h = 0; h < H; h++) {
              const src = (b * T + t) * C + h * hs; // x[b·T + t, h·hs …]
              const dst = ((b * H + h) * T + t) * hs; // y[b, h, t, …]
              for (let i = 0; i < hs; i += 2) {
                const c = cos2[tab + i];
                const s = sin2[tab + i + 1];
                const x0 = x[src + i];
                const x1 = x[src + i + 1];
                const y0 = f(f(x0 * c) - f(x1 * s));
                const y1 = f(f(x0 * s) + f(x1 * c));
                y[dst + i] = scale === 1 ? y0 : y0 * scale;
                y[dst + i + 1] = scale === 1 ? y1 : y1 * scale;
              }
            }
          }
      },
      simd(k, [x, cos2, sin2], [y], [[, C]], { B, T, H, pos, scale }) {
        k.rope_heads(y, x, cos2, sin2, B, T, H, C / H, pos, scale);
      },
    }),
    ...jsKernelConfigs<RopeHeadsAttrs>({
      kernelName: BACKWARD,
      inputs: ['dy', 'cos2', 'sin2'],
      outputShapes: ([[B, H, T, hs]]) => [[B * T, H * hs]],
      compute([dy, cos2, sin2], [dx], [[B, H, T, hs]], { pos, scale }) {
        const C = H * hs;
        for (let b = 0; b < B; b++)
          for (let h = 0; h < H; h++)
            for (let t = 0; t < T; t++) {
              const tab = (pos + t) * hs;
              const src = ((b * H + h) * T + t) * hs;
              const dst = (b * T + t) * C + h * hs;
              for (let i = 0; i < hs; i += 2) {
                const c = cos2[tab + i];
                const s = sin2[tab + i + 1];
                const g0 = dy[src + i];
                const g1 = dy[src + i + 1];
                dx[dst + i] = (g0 * c + g1 * s) * scale;
                dx[dst + i + 1] = (g1 * c - g0 * s) * scale;
              }
            }
      },
      simd(k, [dy, cos2, sin2], [dx], [[B, H, T, hs]], { pos, scale }) {
        k.rope_heads_grad(dx, dy, cos2, sin2, B, T, H, hs, pos, scale);
      },
    }),
  ],
  gradients: [
    {
      kernelName: ROPE_HEADS,
      inputsToSave: ['cos2', 'sin2'],
      gradFunc: (dy, [cos2, sin2], attrs) => ({
        x: () => runJsKernel(BACKWARD, { dy: dy as tf.Tensor, cos2, sin2 }, attrs),
      }),
    },
  ],
};
