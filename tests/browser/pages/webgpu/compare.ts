// Runs one computation on the cpu backend and on webgpu in the page and compares the named results.
import * as tf from '@tensorflow/tfjs';
import { relativeError } from '../../../unit/experts/mix-cases.js';
import type { BackendComparison, Comparison } from './types.js';

/** Named flat results of a computation. */
export type Results = Record<string, ArrayLike<number>>;

/** `a` against `b`, name by name (both must have the same names). */
export function compare(a: Results, b: Results, prefix = ''): Comparison[] {
  const names = Object.keys(b);
  if (Object.keys(a).sort().join() !== [...names].sort().join())
    throw new Error(`compare: names differ: [${Object.keys(a)}] vs [${names}]`);
  return names.map((name) => ({ name: prefix + name, ...relativeError(a[name], b[name]) }));
}

/** Host copies of `tensors` (then disposed). */
export async function read(tensors: Record<string, tf.Tensor>): Promise<Results> {
  const out: Results = {};
  for (const [k, t] of Object.entries(tensors)) out[k] = Float32Array.from(await t.data());
  tf.dispose(Object.values(tensors));
  return out;
}

/** Runs `compute` on cpu, then on webgpu; compares webgpu's results with cpu's. */
export async function onCpuAndWebgpu(
  compute: () => Promise<Results>,
): Promise<BackendComparison & { results: Record<string, Results> }> {
  const results: Record<string, Results> = {};
  const leaked: Record<string, number> = {};
  const ms: Record<string, number> = {};
  for (const backend of ['cpu', 'webgpu']) {
    await useBackend(backend);
    const before = tf.memory().numTensors;
    const t0 = performance.now();
    results[backend] = await compute();
    ms[backend] = performance.now() - t0;
    leaked[backend] = tf.memory().numTensors - before;
  }
  return { comparisons: compare(results.webgpu, results.cpu), leaked, ms, results };
}

/** Activates `backend`. */
export async function useBackend(backend: string): Promise<void> {
  if (!(await tf.setBackend(backend))) throw new Error(`tf.setBackend('${backend}') failed`);
}
