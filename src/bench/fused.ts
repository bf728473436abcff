// Fused model ops (src/model/fused/, SwiGLU's gate and, on wasm with SIMD, attention's causal core) against the
// composed tf ops they replace, forward + backward on the shapes of one bench-256 training micro-batch (B 8, T 256,
// d 256, 8 heads, SwiGLU 688, vocab 512) (attention's softmax with its causal mask, as the model calls it), side by
// side in one run: median ms of each, and composed/fused. On backends without JS kernels the ops fall back to the
// composed form, so the suite reports only where the fused kernels run (wasm, cpu).
import * as tf from '@tensorflow/tfjs';
import { jsKernelsActive } from '../backend/kernels/backends.js';
import {
  causalAttention,
  causalAttentionComposed,
  causalAttentionRuns,
} from '../backend/kernels/causal-attention.js';
import { swiglu, swigluComposed } from '../backend/kernels/swiglu.js';
import { causalMask } from '../model/attention.js';
import { maskedSoftmax, maskedSoftmaxComposed } from '../model/fused/masked-softmax.js';
import { rmsNorm, rmsNormComposed } from '../model/fused/rms-norm.js';
import { tokenNllComposed, tokenNllFused } from '../model/fused/token-nll.js';
import { Rope } from '../model/rope.js';

export interface FusedBenchOptions {
  /** Timed repetitions per op (after one warm-up). Default 5. */
  reps?: number;
  /** Rows of the micro-batch (B), tokens per row (T). Defaults 8, 256. */
  batch?: number;
  seqLen?: number;
}

type Case = {
  op: string;
  fused: (x: tf.Tensor) => tf.Tensor;
  composed: (x: tf.Tensor) => tf.Tensor;
  x: tf.Tensor;
};

/** Records {bench:'fused', op, fusedMs, composedMs, speedup}. */
export async function benchFused(opts: FusedBenchOptions = {}): Promise<object[]> {
  const { reps = 5, batch: B = 8, seqLen: T = 256 } = opts;
  const backend = tf.getBackend();
  if (!jsKernelsActive()) return [{ bench: 'fused', backend, skipped: 'no JS kernels on this backend' }];
  const [d, H, V, hidden] = [256, 8, 512, 688];
  const hs = d / H;
  const N = B * T;
  const rope = new Rope(hs, T, 10000);
  const w = tf.randomUniform([d], 0.5, 1.5, 'float32', 1) as tf.Tensor1D;
  const targets = tf.randomUniform([N], 0, V, 'int32', 3) as tf.Tensor1D;
  const mask = causalMask(T, 0, T);
  const cases: Case[] = [
    {
      op: 'rmsnorm',
      x: tf.randomNormal([N, d], 0, 1, 'float32', 4),
      fused: (x) => rmsNorm(x as tf.Tensor2D, w, 1e-5),
      composed: (x) => rmsNormComposed(x as tf.Tensor2D, w, 1e-5),
    },
    {
      op: 'rope+heads',
      x: tf.randomNormal([N, d], 0, 1, 'float32', 5),
      fused: (x) => rope.heads(x as tf.Tensor2D, B, T, H, 0, 1 / Math.sqrt(hs)),
      composed: (x) =>
        tf.mul(
          tf.transpose(rope.apply(tf.reshape(x, [B, T, H, hs]) as tf.Tensor4D, 0), [0, 2, 1, 3]),
          1 / Math.sqrt(hs),
        ),
    },
    {
      op: 'masked-softmax',
      x: tf.randomNormal([B, H, T, T], 0, 1, 'float32', 6),
      fused: (x) => maskedSoftmax(x as tf.Tensor4D, mask, { causal: true }),
      composed: (x) => maskedSoftmaxComposed(x as tf.Tensor4D, mask),
    },
    {
      // gate and up projections side by side, so that both gradients are taken, as in the model
      op: 'swiglu',
      x: tf.randomNormal([N, 2 * hidden], 0, 1, 'float32', 10),
      fused: (x) => swiglu(...(tf.split(x, 2, 1) as [tf.Tensor, tf.Tensor])),
      composed: (x) => swigluComposed(...(tf.split(x, 2, 1) as [tf.Tensor, tf.Tensor])),
    },
    ...(causalAttentionRuns(T)
      ? [
          {
            // q, k and v of every head stacked along the rows, (B·H, 3T, hs), so that all three gradients are taken
            op: 'attention',
            x: tf.randomNormal([B * H, 3 * T, hs], 0, 1, 'float32', 11),
            fused: (x: tf.Tensor) => {
              const [q, k, v] = tf.split(x, 3, 1) as tf.Tensor3D[];
              return causalAttention(q, k, v, mask, { nh: H, B });
            },
            composed: (x: tf.Tensor) => {
              const [q, k, v] = tf.split(x, 3, 1) as tf.Tensor3D[];
              return causalAttentionComposed(q, k, v, mask, { nh: H, B });
            },
          },
        ]
      : []),
    {
      op: 'token-nll',
      x: tf.randomNormal([N, V], 0, 1, 'float32', 8),
      fused: (x) => tokenNllFused(x as tf.Tensor2D, targets),
      composed: (x) => tokenNllComposed(x as tf.Tensor2D, targets),
    },
  ];
  const out: object[] = [];
  for (const c of cases) {
    const fusedMs = await timeGrad(c.fused, c.x, reps);
    const composedMs = await timeGrad(c.composed, c.x, reps);
    out.push({
      bench: 'fused',
      backend,
      op: c.op,
      shape: c.x.shape,
      fusedMs: round(fusedMs),
      composedMs: round(composedMs),
      speedup: round(composedMs / fusedMs),
    });
    c.x.dispose();
  }
  tf.dispose([w, targets, mask]);
  rope.dispose();
  return out;
}

/** Median ms of value + gradient of sum(f(x)·r) (a fixed random cotangent r), synced. */
async function timeGrad(f: (x: tf.Tensor) => tf.Tensor, x: tf.Tensor, reps: number): Promise<number> {
  const probe = tf.tidy(() => f(x));
  const r = tf.randomNormal(probe.shape, 0, 1, 'float32', 9);
  probe.dispose();
  const g = tf.valueAndGrad((t: tf.Tensor) => tf.sum(tf.mul(f(t), r)));
  const times: number[] = [];
  for (let i = 0; i <= reps; i++) {
    const t0 = performance.now();
    const { value, grad } = g(x);
    await grad.data();
    if (i > 0) times.push(performance.now() - t0);
    tf.dispose([value, grad]);
  }
  r.dispose();
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

const round = (x: number) => Number(x.toPrecision(4));
