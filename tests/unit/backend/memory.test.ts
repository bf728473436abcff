import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import {
  describeMeasuredMemory,
  expectNoLeak,
  measureMemory,
  TensorGrowthMonitor,
  TensorLeakError,
  tensorCount,
  withLeakCheck,
} from '../../../src/backend/memory.js';
import { onBackend } from '../../helpers/index.js';

describe('memory guards', () => {
  it('tensorCount follows tf.memory()', () => {
    const before = tensorCount();
    const t = tf.ones([2]);
    expect(tensorCount()).toBe(before + 1);
    t.dispose();
    expect(tensorCount()).toBe(before);
  });

  it('withLeakCheck returns the result and does not count the tensors it returns', async () => {
    const { result, delta, before, after } = await withLeakCheck(() =>
      tf.tidy(() => [tf.ones([2]).add(1), { y: tf.zeros([1]) }]),
    );
    expect(delta).toBe(0);
    expect(after - before).toBe(2);
    tf.dispose(result);
    let stray: tf.Tensor | undefined;
    const leaky = await withLeakCheck(async () => {
      stray = tf.ones([3]); // created outside any tidy and not returned
      return new Float32Array(4);
    });
    expect(leaky.delta).toBe(1);
    stray?.dispose();
  });

  it('expectNoLeak passes a tidy step after warm-up state, and throws on a per-call leak', async () => {
    let slot: tf.Variable | undefined;
    const step = () =>
      tf.tidy(() => {
        slot ??= tf.variable(tf.zeros([4])); // created once, like optimizer slots on the first step
        return tf.sum(tf.add(slot, 1));
      });
    await expect(expectNoLeak(step)).resolves.toMatchObject({ delta: 0 });
    const leaks: tf.Tensor[] = [];
    const err = await expectNoLeak(() => void leaks.push(tf.ones([1])), { repeats: 2 }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TensorLeakError);
    expect((err as TensorLeakError).report.delta).toBe(2);
    expect((err as Error).message).toContain('2 tensor(s) left alive');
    tf.dispose([...leaks, slot as tf.Variable]);
  });

  it('TensorGrowthMonitor reports growth since the first observation', () => {
    const monitor = new TensorGrowthMonitor();
    expect(monitor.observe()).toBe(0);
    const t = tf.ones([1]);
    expect(monitor.observe()).toBe(1);
    t.dispose();
    expect(monitor.observe()).toBe(0);
  });

  it('measureMemory reads the wasm heap (in 64 KiB pages) and RSS; describeMeasuredMemory prints them', async () => {
    await onBackend('wasm', () => {
      const m = measureMemory();
      expect(m.wasmHeapBytes).toBeGreaterThan(0);
      expect((m.wasmHeapBytes ?? 1) % 65536).toBe(0);
      expect(m.rssBytes).toBeGreaterThan(0);
      expect(m.maxRssBytes).toBeGreaterThanOrEqual(0.9 * (m.rssBytes ?? 0)); // a peak, read just after
      expect(describeMeasuredMemory(m)).toMatch(
        /^wasm heap \d+\.\d\d GiB, RSS \d+\.\d\d GiB \(peak \d+\.\d\d GiB\)$/,
      );
    });
    await onBackend('cpu', () => expect(measureMemory().wasmHeapBytes).toBeNull());
    expect(describeMeasuredMemory({ wasmHeapBytes: null, rssBytes: null, maxRssBytes: null })).toBe(
      'no memory figures available here',
    );
  });
});
