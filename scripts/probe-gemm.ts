import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/backend/select-node.js';
import { simdKernels } from '../src/backend/simd/instance.js';

await selectBackend({ backend: 'wasm' });
const b = tf.backend() as any;
const k = simdKernels(b.wasm.asm.memory)!;
const scratch = b.wasm._malloc(8320) >>> 0;
const off = (t: tf.Tensor) => b.dataIdMap.get(t.dataId).memoryOffset >>> 0;
const gemm = (a: tf.Tensor2D, w: tf.Tensor2D, bt: boolean) => {
  const [M, K] = a.shape;
  const N = bt ? w.shape[0] : w.shape[1];
  const out = tf.zeros([M, N]);
  k.gemm(off(a), off(w), off(out), M, K, N, bt ? 1 : 0, 0, scratch);
  return out as tf.Tensor2D;
};
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const med = (a: number[]) => a.sort((p, q) => p - q)[a.length >> 1];
// correctness
for (const [M, K, N] of [
  [7, 13, 5],
  [13, 300, 19],
  [64, 576, 192],
  [1, 600, 9],
]) {
  const a = tf.randomNormal([M, K]) as tf.Tensor2D;
  const w = tf.randomNormal([K, N]) as tf.Tensor2D;
  const ref = tf.matMul(a, w);
  const nn = gemm(a, w, false);
  const wt = tf.transpose(w) as tf.Tensor2D;
  const nt = gemm(a, wt, true);
  console.log(
    M,
    K,
    N,
    'nn',
    tf
      .max(tf.abs(tf.sub(ref, nn)))
      .dataSync()[0]
      .toExponential(2),
    'nt',
    tf
      .max(tf.abs(tf.sub(ref, nt)))
      .dataSync()[0]
      .toExponential(2),
  );
}
for (const [K, N] of [
  [576, 1536],
  [1536, 576],
  [896, 4864],
  [4864, 896],
])
  for (const M of [128, 512]) {
    const w = tf.randomNormal([K, N]) as tf.Tensor2D;
    const wt = tf.transpose(w) as tf.Tensor2D;
    const x = tf.randomNormal([M, K]) as tf.Tensor2D;
    const t: Record<string, number[]> = { xnn: [], nn: [], nt: [] };
    for (let r = 0; r < 6; r++) {
      let c0 = cpu();
      let y = tf.matMul(x, w);
      y.dataSync();
      t.xnn.push(cpu() - c0);
      y.dispose();
      c0 = cpu();
      y = gemm(x, w, false);
      t.nn.push(cpu() - c0);
      y.dispose();
      c0 = cpu();
      y = gemm(x, wt, true);
      t.nt.push(cpu() - c0);
      y.dispose();
    }
    const m = Object.fromEntries(Object.entries(t).map(([kk, v]) => [kk, med(v.slice(1))]));
    console.log(
      JSON.stringify({
        M,
        K,
        N,
        xnnMs: m.xnn.toFixed(1),
        nnMs: m.nn.toFixed(1),
        ntMs: m.nt.toFixed(1),
        nnRatio: (m.nn / m.xnn).toFixed(2),
        ntRatio: (m.nt / m.xnn).toFixed(2),
        xnnGflops: ((2 * M * K * N) / m.xnn / 1e6).toFixed(1),
      }),
    );
    tf.dispose([w, wt, x]);
  }
