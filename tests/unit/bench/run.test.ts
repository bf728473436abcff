// runSuites (order, --only, a failing suite) and `mote bench` in-process on wasm with --quick.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { batchMatMulGradConfig } from '../../../src/backend/kernels/batch-matmul-grad.js';
import { runSuites, type Suite } from '../../../src/bench/index.js';
import { runBench } from '../../../src/cli/commands/bench.js';

describe('runSuites', () => {
  const suites: Record<string, Suite> = {
    a: async (o) => [{ bench: 'a', quick: o.quick }],
    b: async () => {
      throw new Error('boom');
    },
    c: async () => [
      { bench: 'c', n: 1 },
      { bench: 'c', n: 2 },
    ],
  };

  it('runs every suite in order, turning a throw into an error record', async () => {
    const out: object[] = [];
    await runSuites((r) => out.push(r), { suites, backend: 'cpu', quick: true });
    expect(out).toEqual([
      { bench: 'a', quick: true },
      { bench: 'b', backend: 'cpu', error: 'boom' },
      { bench: 'c', n: 1 },
      { bench: 'c', n: 2 },
    ]);
  });

  it('an opt-in suite (scale) runs only when named', async () => {
    const out: object[] = [];
    const withScale: Record<string, Suite> = { a: suites.a, scale: async () => [{ bench: 'scale' }] };
    await runSuites((r) => out.push(r), { suites: withScale });
    expect(out).toEqual([{ bench: 'a' }]);
    await runSuites((r) => out.push(r), { suites: withScale, only: ['scale'] });
    expect(out).toEqual([{ bench: 'a' }, { bench: 'scale' }]);
  });

  it('--only keeps the suite order and rejects an unknown name before running anything', async () => {
    const out: object[] = [];
    await runSuites((r) => out.push(r), { suites, only: ['c', 'a'] });
    expect(out.map((r) => (r as { bench: string }).bench)).toEqual(['a', 'c', 'c']);
    await expect(runSuites((r) => out.push(r), { suites, only: ['a', 'nope'] })).rejects.toThrow(
      /unknown benchmark suite nope \(known: a, b, c\)/,
    );
    expect(out).toHaveLength(3);
  });
});

describe('mote bench', () => {
  it('--only matmul --quick on wasm: records with backend and device', async () => {
    const out: Record<string, unknown>[] = [];
    const log: string[] = [];
    const { choice, device } = await runBench({
      backend: 'wasm',
      only: ['matmul'],
      quick: true,
      emit: (r) => out.push(r as Record<string, unknown>),
      log: (l) => log.push(l),
    });
    expect(choice.name).toBe('wasm');
    expect(device).toBe('cpu');
    expect(log[0]).toMatch(/^backend: wasm on the CPU/);
    expect(out.map((r) => r.bench)).toEqual(['matmul', 'matmul-grad-step', 'weight-matmul']);
    for (const r of out) expect(r).toMatchObject({ backend: 'wasm', device: 'cpu' });
    expect(out[0]).toMatchObject({
      shape: '256x256·256x256',
      gflops: expect.any(Number),
      xnnpackGflops: expect.any(Number),
    });
    const rate = { xW: expect.any(Number), dyWt: expect.any(Number) };
    expect(out[2]).toMatchObject({
      shape: '64x48·48x96',
      relaxedSimd: true,
      gflops: rate,
      plainSimdGflops: rate,
      tfjsKernelGflops: rate,
    });
    expect(tf.getGradient(tf.BatchMatMul)).toBe(batchMatMulGradConfig); // the flags gradient was swapped back
  });

  it('--only parallel --quick on wasm: both cases alternate on one warm pool and end at the same weights', async () => {
    const out: Record<string, unknown>[] = [];
    await runBench({
      backend: 'wasm',
      only: ['parallel'],
      quick: true,
      emit: (r) => out.push(r as Record<string, unknown>),
      log: () => {},
    });
    expect(out.map((r) => [r.bench, r.workers])).toEqual([
      ['parallel', 1],
      ['parallel', 2],
      ['parallel-ratio', undefined],
    ]);
    expect(out[1]).toMatchObject({
      rounds: 1,
      coresUsed: expect.any(Number),
      poolStartMs: expect.any(Number),
    });
    const ratio = out[2];
    expect(ratio).toMatchObject({
      backend: 'wasm',
      batch: 2,
      split: true,
      threadScaling: null,
      memoryScaling: null,
      target: 1.7,
    });
    // the shards' gradients alone: one worker, then both at once; the ratios are the figures they make
    const ceiling = ratio.ceiling as Record<string, number>;
    expect(ceiling.msOneShard).toBeGreaterThan(0);
    expect(ceiling.concurrency).toBeCloseTo((2 * ceiling.msOneShard) / ceiling.msTwoShards, 2);
    expect(ceiling.reached).toBeCloseTo(
      (ratio.workers2OverWorkers1 as number) / ceiling.workers2OverWorkers1,
      2,
    );
    expect(ratio.perRound).toEqual([ratio.workers2OverWorkers1]);
    const weak = ratio.weak as Record<string, unknown>; // 2 workers on twice the batch
    expect(weak).toMatchObject({ batch2: 4, tokensPerSec2: expect.any(Number) });
    expect(weak.perRound).toEqual([weak.workers2OverWorkers1]);
    // the copies differ by float rounding only, which AdamW can amplify where a gradient is near zero: it moves
    // every element by about lr (1e-4) a step whatever the gradient's size, so an element whose gradient rounds
    // differently moves by a fraction of that (3 elements beyond 1e-6 here, 1.2e-5 at most). A wrong combination of
    // the shards moves most elements by up to 2·lr a step.
    expect(ratio.maxAbsDiffWeights).toBeGreaterThanOrEqual(0);
    expect(ratio.maxAbsDiffWeights).toBeLessThan(5e-5);
  });
});
