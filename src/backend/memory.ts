// Tensor-leak guards for tests and the trainer's debug mode. They count live tensors and return numbers;
// they never print. Leaks come from tensors created outside `tidy` each step (tfjs-notes.md).
import * as tf from '@tensorflow/tfjs';

/** Live tensors in the engine (`tf.memory().numTensors`; variables count too). */
export function tensorCount(): number {
  return tf.memory().numTensors;
}

/** Tensor counts around one call. `delta` excludes the tensors the call returned. */
export interface LeakReport {
  before: number;
  after: number;
  /** Tensors created by the call and still alive, not counting the ones in its result. */
  delta: number;
}

/** Runs `fn` once and reports how many tensors it left alive beyond those it returned. */
export async function withLeakCheck<T>(fn: () => T | Promise<T>): Promise<LeakReport & { result: T }> {
  const before = tensorCount();
  const result = await fn();
  const after = tensorCount();
  return { before, after, delta: after - before - tensorsIn(result), result };
}

/** A call left tensors behind. */
export class TensorLeakError extends Error {
  constructor(readonly report: LeakReport) {
    super(`tensor leak: ${report.delta} tensor(s) left alive per call (${report.before} → ${report.after})`);
    this.name = 'TensorLeakError';
  }
}

/**
 * Runs `fn` `warmup` times (first calls may create lasting state, e.g. optimizer slots), then `repeats`
 * times; throws TensorLeakError if the count grew over the repeats. Returned tensors are disposed after
 * each call. Returns the report (delta 0) otherwise.
 */
export async function expectNoLeak(
  fn: () => unknown | Promise<unknown>,
  { warmup = 1, repeats = 3 }: { warmup?: number; repeats?: number } = {},
): Promise<LeakReport> {
  for (let i = 0; i < warmup; i++) tf.dispose(collectTensors(await fn()));
  const before = tensorCount();
  for (let i = 0; i < repeats; i++) tf.dispose(collectTensors(await fn()));
  const after = tensorCount();
  const report = { before, after, delta: after - before };
  if (report.delta !== 0) throw new TensorLeakError(report);
  return report;
}

/** Tracks the tensor count across training steps: growth since the first observation. */
export class TensorGrowthMonitor {
  private baseline: number | undefined;

  /** Call after each step. Returns 0 the first time, then the growth since then (> 0 means a leak). */
  observe(): number {
    const now = tensorCount();
    this.baseline ??= now;
    return now - this.baseline;
  }
}

/** Distinct tensors reachable from `value` through arrays, Maps and plain objects (typed arrays skipped). */
function tensorsIn(value: unknown): number {
  return collectTensors(value).length;
}

function collectTensors(value: unknown): tf.Tensor[] {
  const found = new Set<tf.Tensor>();
  const seen = new Set<object>();
  const walk = (v: unknown): void => {
    if (v instanceof tf.Tensor) found.add(v);
    else if (v !== null && typeof v === 'object' && !ArrayBuffer.isView(v) && !seen.has(v)) {
      seen.add(v);
      const items = Array.isArray(v) ? v : v instanceof Map ? [...v.values()] : Object.values(v);
      for (const item of items) walk(item);
    }
  };
  walk(value);
  return [...found];
}
