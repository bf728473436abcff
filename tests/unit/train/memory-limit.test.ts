// train refuses a run whose memory estimate exceeds its limit before the first step allocates anything, with the
// estimate and what to lower; a wasm abort names what was measured.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { syntheticChains } from '../../../src/bench/train.js';
import { attachExperts } from '../../../src/experts/attach.js';
import { estimateMemory, MemoryRefusedError } from '../../../src/model/memory.js';
import { Transformer } from '../../../src/model/transformer.js';
import { type TrainEvent, train } from '../../../src/train/trainer.js';

const SHAPE = {
  dim: 16,
  hiddenDim: 32,
  numLayers: 2,
  numHeads: 2,
  numKvHeads: 1,
  vocabSize: 40,
  maxSeqLen: 16,
};

describe('train memory limit', () => {
  it('refuses before the first step when the estimate exceeds memoryLimit, and runs within it', async () => {
    const model = Transformer.init(SHAPE, 1, { trainable: false });
    const attached = attachExperts(model, { kind: 'mote', rank: 2, seed: 1 });
    const chains = syntheticChains(2, 16, SHAPE.vocabSize, 'memory-limit');
    const config = { epochs: 1, batchSize: 2, evalEvery: 0, saveEvery: 0, workers: 1 as const };
    const need = estimateMemory(model.config, {
      seqLen: 16,
      batchSize: 2,
      rank: 2,
      trainableParameters: attached.parameterCount,
    }).backends[tf.getBackend() === 'wasm' ? 'wasm' : 'cpu'].training.total; // wasm adds its heap's overhead
    const events: TrainEvent[] = [];
    const before = tf.memory().numTensors;
    const refused = await train(model, { train: chains }, config, {
      seqLen: 16,
      memoryLimit: need - 1,
      onEvent: (e) => events.push(e),
    }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(MemoryRefusedError);
    expect((refused as MemoryRefusedError).estimate.total).toBe(need);
    expect((refused as Error).message).toMatch(
      /^train: training needs about .* at seqLen 16 × microBatchSize 2/,
    );
    expect((refused as Error).message).toMatch(/lower .*seqLen \(16\) or microBatchSize \(2\)/);
    expect(events).toEqual([]); // not even a start event
    expect(tf.memory().numTensors).toBe(before); // nothing allocated
    const result = await train(model, { train: chains }, config, { seqLen: 16, memoryLimit: need });
    expect(Number.isFinite(result.loss)).toBe(true);
    await expect(train(model, { train: chains }, config, { seqLen: 16, memoryLimit: -1 })).rejects.toThrow(
      /memoryLimit = -1; expected a positive number of bytes, or false/,
    );
    model.dispose();
  });

  it('with workers, estimates the rows one worker holds: a micro-batch split over 2 workers fits where 2 rows do not', async () => {
    const model = Transformer.init(SHAPE, 1, { trainable: false });
    const attached = attachExperts(model, { kind: 'mote', rank: 2, seed: 1 });
    const chains = syntheticChains(2, 16, SHAPE.vocabSize, 'memory-limit');
    const oneRow = estimateMemory(model.config, {
      seqLen: 16,
      batchSize: 1,
      rank: 2,
      trainableParameters: attached.parameterCount,
    }).backends[tf.getBackend() === 'wasm' ? 'wasm' : 'cpu'].training.total;
    const config = { epochs: 1, batchSize: 2, evalEvery: 0, saveEvery: 0, workers: 2 };
    const run = (memoryLimit: number) =>
      train(model, { train: chains }, config, { seqLen: 16, memoryLimit }).catch((e: unknown) => e);
    const refused = await run(oneRow - 1);
    expect(refused).toBeInstanceOf(MemoryRefusedError);
    expect((refused as Error).message).toMatch(/^train \(each of 2 workers: 1 rows\): .*microBatchSize 1/);
    // within the limit the estimate passes; this entry then refuses worker threads (the Node entry has them)
    expect(String(await run(oneRow))).toMatch(/workers = 2; expected 'auto' or 1 in this build/);
    model.dispose();
  });
});
