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

/** What the process holds now, measured: the wasm heap's size and the process's resident set, when known. */
export interface MeasuredMemory {
  /** Bytes of the wasm backend's heap (it only grows, so this is its high-water mark); null on other backends. */
  wasmHeapBytes: number | null;
  /** The process's resident set (Node), or null where it cannot be read (browsers). */
  rssBytes: number | null;
  /** The process's peak resident set so far (Node), or null. */
  maxRssBytes: number | null;
}

/** Measures the memory the process holds (see MeasuredMemory); never throws. */
export function measureMemory(): MeasuredMemory {
  let wasmHeapBytes: number | null = null;
  try {
    const b = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
    wasmHeapBytes = b.wasm?.HEAPU8?.buffer.byteLength ?? null;
  } catch {
    // no backend selected
  }
  const proc = (globalThis as { process?: NodeJS.Process }).process;
  const rssBytes = typeof proc?.memoryUsage?.rss === 'function' ? proc.memoryUsage.rss() : null;
  // resourceUsage().maxRSS is in kilobytes
  const maxRssBytes = typeof proc?.resourceUsage === 'function' ? proc.resourceUsage().maxRSS * 1024 : null;
  return { wasmHeapBytes, rssBytes, maxRssBytes };
}

/** "wasm heap 3.98 GiB, RSS 4.41 GiB (peak 4.52 GiB)": the measured figures, for messages. */
export function describeMeasuredMemory(m: MeasuredMemory = measureMemory()): string {
  const gib = (b: number) => `${(b / 1024 ** 3).toFixed(2)} GiB`;
  const parts: string[] = [];
  if (m.wasmHeapBytes !== null) parts.push(`wasm heap ${gib(m.wasmHeapBytes)}`);
  if (m.rssBytes !== null)
    parts.push(`RSS ${gib(m.rssBytes)}${m.maxRssBytes !== null ? ` (peak ${gib(m.maxRssBytes)})` : ''}`);
  return parts.length ? parts.join(', ') : 'no memory figures available here';
}
