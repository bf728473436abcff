// workers: 'auto' (src/train/parallel/auto.ts): the cores only where parallel training pays, with the reason; a
// small run (the unit tests' size) stays in-process and says why.
import { describe, expect, it } from 'vitest';
import type { EncodedChain } from '../../../src/aligncot/encode.js';
import { attachExperts } from '../../../src/experts/attach.js';
import { resolveModelConfig } from '../../../src/model/config.js';
import { Transformer } from '../../../src/model/transformer.js';
import { AUTO_MIN_STEP_WORK, resolveWorkers, type Workload } from '../../../src/train/parallel/auto.js';
import type { TrainEvent } from '../../../src/train/trainer.js';
import { train } from '../../../src/train/trainer-node.js';

const BIG: Workload = {
  backend: 'wasm',
  dropout: 0,
  parameters: 1e6,
  tokensPerStep: 2000,
  rows: 8,
  microBatches: 1,
  splittable: true,
};

describe('resolveWorkers', () => {
  it.each<[string, Partial<Workload>, number, number, RegExp]>([
    ['a large step on 2 cores', {}, 2, 2, /^auto: 2 of 2 cores, 2\.0e9 parameter·tokens per step ≥ 1\.0e9$/],
    ['no more workers than rows', { rows: 4 }, 16, 4, /^auto: 4 of 16 cores/],
    ['cpu backend', { backend: 'cpu' }, 2, 2, /^auto: 2 of 2 cores/],
    [
      'a small step',
      { parameters: 3e5, tokensPerStep: 160 },
      2,
      1,
      /^auto: 4\.8e7 parameter·tokens per step < 1\.0e9$/,
    ],
    ['one core', {}, 1, 1, /^auto: 1 core$/],
    ['a native backend', { backend: 'tensorflow' }, 2, 1, /^auto: the tensorflow backend/],
    ['LoRA dropout', { dropout: 0.05 }, 2, 1, /^auto: LoRA dropout 0\.05/],
    ['one row per step', { rows: 1 }, 2, 1, /^auto: one row per step$/],
    [
      'moe-topk, one micro-batch',
      { splittable: false },
      2,
      1,
      /^auto: one micro-batch per step, and these experts' micro-batches are not split/,
    ],
    ['moe-topk, micro-batches to share', { splittable: false, microBatches: 4 }, 2, 2, /^auto: 2 of 2 cores/],
    [
      'moe-topk, fewer micro-batches than cores',
      { splittable: false, microBatches: 2 },
      8,
      2,
      /^auto: 2 of 8/,
    ],
  ])('%s', (_, change, cores, workers, reason) => {
    const r = resolveWorkers('auto', { ...BIG, ...change }, cores);
    expect(r.workers).toBe(workers);
    expect(r.reason).toMatch(reason);
  });

  it('a number is taken as set, whatever the workload', () => {
    expect(resolveWorkers(3, { ...BIG, parameters: 1 }, 1)).toEqual({ workers: 3, reason: 'set' });
  });

  it('the threshold sits between the unit tests’ runs and the demo’s', () => {
    expect(AUTO_MIN_STEP_WORK).toBeGreaterThan(630_336 * 4 * 64); // stories260K + MoTE, batch 4 of ≤64 tokens
    expect(AUTO_MIN_STEP_WORK).toBeLessThan(630_336 * 8 * 300); // the demo: stories260K + MoTE rank 16, batch 8
  });
});

describe('train with the default workers', () => {
  it('a tiny run stays in-process and its start event says why', async () => {
    const tiny = resolveModelConfig({ maxSeqLen: 32 }, 'tiny-test');
    const model = Transformer.init(tiny, 0, { trainable: false });
    attachExperts(model, { kind: 'lora', rank: 2 });
    const chain: EncodedChain = {
      id: 'x',
      ids: Int32Array.from({ length: 16 }, (_, i) => (i * 7) % 64),
      targets: Int32Array.from({ length: 16 }, (_, i) => (i * 7 + 7) % 64),
      lossMask: new Float32Array(16).fill(1),
      stepIds: new Int32Array(16).fill(1),
      stepSpans: [],
    };
    const events: TrainEvent[] = [];
    await train(
      model,
      { train: [chain, chain] },
      { epochs: 1, batchSize: 2 },
      {
        onEvent: (e) => events.push(e),
      },
    );
    model.dispose();
    const start = events.find((e) => e.type === 'start');
    expect(start).toMatchObject({ workers: 1, workersReason: expect.stringMatching(/^auto: .* < 1\.0e9$/) });
  });
});
