// Matmul throughput of the current backend, and a training-style gradient step with this library's
// BatchMatMul gradient against the same gradient written with transpose flags (the built-in gradient's
// matmuls). On wasm the first uses explicit transposes + plain matmuls (XNNPACK); elsewhere both use flags.
// Run alone: mote bench --only matmul [--backend …] — one JSON line per record.
import * as tf from '@tensorflow/tfjs';
import { batchMatMulGradConfig, matMulGrads } from '../backend/kernels/batch-matmul-grad.js';
import { withGradient } from '../backend/kernels/index.js';

/** Sizes and repetitions; the defaults fit a slow 2-core box. */
export interface MatmulBenchOptions {
  warmup?: number;
  repeats?: number;
  /** Rows (B·T) of the activations in the gradient-step record. */
  stepRows?: number;
  /** [M, K, N] of the plain matmul. Default [2048, 512, 512]. */
  size?: readonly [number, number, number];
}

/** Records for the current backend: {bench:'matmul', …} and {bench:'matmul-grad-step', …}. */
export async function benchMatmul(opts: MatmulBenchOptions = {}): Promise<object[]> {
  const { warmup = 2, repeats = 5, stepRows = 512, size = [2048, 512, 512] } = opts;
  const backend = tf.getBackend();
  const [M, K, N] = size;
  const a = tf.randomNormal([M, K], 0, 1, 'float32', 1);
  const b = tf.randomNormal([K, N], 0, 1, 'float32', 2);
  const ms = await medianMs(() => tf.matMul(a, b), warmup, repeats); // (M, N)
  tf.dispose([a, b]);
  const matmul = {
    bench: 'matmul',
    backend,
    shape: `${M}x${K}·${K}x${N}`,
    ms,
    gflops: (2 * M * K * N) / ms / 1e6,
  };
  return [matmul, await benchGradStep(backend, stepRows, Math.min(warmup, 1), Math.min(repeats, 3))];
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
