// Matmul throughput of the current backend (on wasm: tf.matMul, which takes the library's SIMD gemm from 16 rows,
// beside tfjs-backend-wasm's own kernel, XNNPACK), and a training-style gradient step with this library's
// BatchMatMul gradient against the same gradient written with transpose flags (the built-in gradient's
// matmuls). On wasm the first uses explicit transposes + plain matmuls; elsewhere both use flags.
// Then the frozen-weight products of a training step at a real shape (weight-matmul.ts: x·W0 and dy·W0ᵀ on W0 where
// it lies) beside tfjs's own kernel on the same size: the products that take most of a step at real size.
// Run alone: mote bench --only matmul [--backend …] — one JSON line per record.
import * as tf from '@tensorflow/tfjs';
import { batchMatMulGradConfig, matMulGrads } from '../backend/kernels/batch-matmul-grad.js';
import { withGradient } from '../backend/kernels/index.js';
import { originalBatchMatMul } from '../backend/kernels/wasm-batch-matmul.js';
import { weightMatMul, weightMatMulT } from '../backend/kernels/weight-matmul.js';
import { preferRelaxedSimd, relaxedSimdActive } from '../backend/simd/instance.js';

/** Sizes and repetitions; the defaults fit a slow 2-core box. */
export interface MatmulBenchOptions {
  warmup?: number;
  repeats?: number;
  /** Rows (B·T) of the activations in the gradient-step record. */
  stepRows?: number;
  /** [M, K, N] of the plain matmul. Default [2048, 512, 512]. */
  size?: readonly [number, number, number];
  /** [tokens, K, N] of the frozen-weight products. Default [512, 576, 1536]: SmolLM2-135M's MLP up projection at seq 512. */
  weightSize?: readonly [number, number, number];
}

/** Records for the current backend: {bench:'matmul', …} and {bench:'matmul-grad-step', …}. */
export async function benchMatmul(opts: MatmulBenchOptions = {}): Promise<object[]> {
  const {
    warmup = 2,
    repeats = 5,
    stepRows = 512,
    size = [2048, 512, 512],
    weightSize = [512, 576, 1536],
  } = opts;
  const backend = tf.getBackend();
  const [M, K, N] = size;
  const a = tf.randomNormal([M, K], 0, 1, 'float32', 1);
  const b = tf.randomNormal([K, N], 0, 1, 'float32', 2);
  const ms = await medianMs(() => tf.matMul(a, b), warmup, repeats); // (M, N)
  const xnnpackMs =
    backend === 'wasm' ? await medianMs(() => originalBatchMatMul(a, b), warmup, repeats) : null;
  tf.dispose([a, b]);
  const matmul = {
    bench: 'matmul',
    backend,
    shape: `${M}x${K}·${K}x${N}`,
    ms,
    gflops: (2 * M * K * N) / ms / 1e6,
    ...(xnnpackMs !== null && { xnnpackGflops: (2 * M * K * N) / xnnpackMs / 1e6 }),
  };
  return [
    matmul,
    await benchGradStep(backend, stepRows, Math.min(warmup, 1), Math.min(repeats, 3)),
    await benchWeightProducts(backend, weightSize, warmup, repeats),
  ];
}

/**
 * x·W and dy·Wᵀ through the library's weight kernels and through the backend's own matmul kernel (dy·Wᵀ by
 * transposeB; on wasm tfjs's, bypassing the library's replacement), GFLOP/s each; on wasm with relaxed SIMD, the
 * weight kernels' plain form too (`plainSimdGflops`), measured after the relaxed one.
 */
async function benchWeightProducts(
  backend: string,
  [M, K, N]: readonly [number, number, number],
  warmup: number,
  repeats: number,
): Promise<object> {
  const x = tf.randomNormal([M, K], 0, 1, 'float32', 6) as tf.Tensor2D; // (tokens, K)
  const dy = tf.randomNormal([M, N], 0, 1, 'float32', 7) as tf.Tensor2D; // (tokens, N)
  const w = tf.randomNormal([K, N], 0, 0.05, 'float32', 8) as tf.Tensor2D; // (K, N)
  const gflops = (ms: number) => Number(((2 * M * K * N) / ms / 1e6).toFixed(2));
  const ours = await medianMs(() => weightMatMul(x, w), warmup, repeats);
  const oursT = await medianMs(() => weightMatMulT(dy, w), warmup, repeats);
  const relaxed = backend === 'wasm' && relaxedSimdActive();
  let plain: { xW: number; dyWt: number } | undefined;
  if (relaxed) {
    preferRelaxedSimd(false);
    try {
      plain = {
        xW: gflops(await medianMs(() => weightMatMul(x, w), warmup, repeats)),
        dyWt: gflops(await medianMs(() => weightMatMulT(dy, w), warmup, repeats)),
      };
    } finally {
      preferRelaxedSimd(true);
    }
  }
  const own = (p: tf.Tensor, q: tf.Tensor, tb: boolean) =>
    backend === 'wasm' ? originalBatchMatMul(p, q, tb) : tf.matMul(p, q, false, tb);
  const tfjs = await medianMs(() => own(x, w, false), warmup, repeats);
  const tfjsT = await medianMs(() => own(dy, w, true), warmup, repeats);
  tf.dispose([x, dy, w]);
  return {
    bench: 'weight-matmul',
    backend,
    shape: `${M}x${K}·${K}x${N}`,
    relaxedSimd: relaxed,
    gflops: { xW: gflops(ours), dyWt: gflops(oursT) },
    ...(plain && { plainSimdGflops: plain }),
    tfjsKernelGflops: { xW: gflops(tfjs), dyWt: gflops(tfjsT) },
  };
}

/** A 2-layer MLP step, d = 512: loss = mean((relu(x·W1)·W2)²), gradients of W1 and W2 only. */
async function benchGradStep(
  backend: string,
  rows: number,
  warmup: number,
  repeats: number,
): Promise<object> {
  const d = 512;
  const x = tf.randomNormal([rows, d], 0, 1, 'float32', 3); // (B·T, d)
  const w1 = tf.variable(tf.randomNormal([d, d], 0, 0.05, 'float32', 4)); // (d, d)
  const w2 = tf.variable(tf.randomNormal([d, d], 0, 0.05, 'float32', 5)); // (d, d)
  const loss = () => tf.mean(tf.square(tf.matMul(tf.relu(tf.matMul(x, w1)), w2))) as tf.Scalar;
  const step = () => stepGrads(loss, [w1, w2]);
  const shimMs = await medianMs(step, warmup, repeats);
  const flagsMs = await withGradient(flagsGradConfig, () => medianMs(step, warmup, repeats));
  tf.dispose([x, w1, w2]);
  return {
    bench: 'matmul-grad-step',
    backend,
    shape: `${rows}x${d}·${d}x${d} ×2 layers`,
    msShim: shimMs,
    msFlags: flagsMs,
    speedup: flagsMs / shimMs,
  };
}

/** The gradients of `f` for `vars`, stacked into one tensor so a single data() syncs them all. */
function stepGrads(f: () => tf.Scalar, vars: tf.Variable[]): tf.Tensor {
  const { value, grads } = tf.variableGrads(f, vars);
  const flat = tf.concat(vars.map((v) => tf.reshape(grads[v.name], [-1])));
  tf.dispose([value, ...Object.values(grads)]);
  return flat;
}

/** Our gradient with transpose flags on every backend, as the built-in one calls matmuls. */
const flagsGradConfig: tf.GradConfig = {
  ...batchMatMulGradConfig,
  gradFunc: (dy, [a, b], attrs) => {
    const opts = { transposeA: Boolean(attrs.transposeA), transposeB: Boolean(attrs.transposeB) };
    const g = matMulGrads(dy as tf.Tensor, a, b, { ...opts, explicitTranspose: false });
    return { a: g.da, b: g.db };
  },
};

/** Median wall time of `run` (result synced with data(), then disposed) after warm-up runs. */
async function medianMs(run: () => tf.Tensor, warmup: number, repeats: number): Promise<number> {
  const once = async () => {
    const t0 = performance.now();
    const out = tf.tidy(run);
    await out.data();
    const ms = performance.now() - t0;
    out.dispose();
    return ms;
  };
  for (let i = 0; i < warmup; i++) await once();
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) times.push(await once());
  times.sort((p, q) => p - q);
  return times[Math.floor(times.length / 2)];
}
