// Shared test helpers: closeness checks, leak checks, fixture paths, seeded random tensors.
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { expect } from 'vitest';

export { seededNormal } from './random.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const STORIES_BIN = `${ROOT}models/stories260K/stories260K.bin`;
export const TOK512_BIN = `${ROOT}models/stories260K/tok512.bin`;
export const TOK32K_BIN = `${ROOT}models/llama2-tokenizer-32k/tokenizer.bin`;

/** Max |a − b| over all elements. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Asserts |a − b| ≤ atol + rtol·|b| element-wise, reporting the worst element. */
export function expectClose(
  a: tf.Tensor | ArrayLike<number>,
  b: tf.Tensor | ArrayLike<number>,
  atol = 1e-5,
  rtol = 1e-5,
): void {
  const av = a instanceof tf.Tensor ? a.dataSync() : a;
  const bv = b instanceof tf.Tensor ? b.dataSync() : b;
  expect(av.length).toBe(bv.length);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < av.length; i++) {
    const excess = Math.abs(av[i] - bv[i]) - (atol + rtol * Math.abs(bv[i]));
    if (!(excess <= worstExcess)) {
      worst = i;
      worstExcess = Number.isNaN(excess) ? Number.POSITIVE_INFINITY : excess;
    }
  }
  if (worst >= 0) expect.fail(`element ${worst}: ${av[worst]} vs ${bv[worst]} (atol ${atol}, rtol ${rtol})`);
}

/** Runs `fn` `steps` times and asserts the live tensor count does not grow after the first run. */
export async function expectNoLeak(fn: () => unknown | Promise<unknown>, steps = 3): Promise<void> {
  await fn();
  const before = tf.memory().numTensors;
  for (let i = 0; i < steps; i++) await fn();
  expect(tf.memory().numTensors).toBe(before);
}

/** Runs `fn` with backend `name` active, then restores the previous backend. */
export async function onBackend<T>(name: string, fn: () => T | Promise<T>): Promise<T> {
  const prev = tf.getBackend();
  await tf.setBackend(name);
  try {
    return await fn();
  } finally {
    await tf.setBackend(prev);
  }
}
