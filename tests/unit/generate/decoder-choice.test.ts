// The decoder choice behind 'auto' (decoder-choice.ts) on injected timings: the faster median wins, a measurement
// is made once per device, rows and shape and then reused, nothing is measured where the host decoder cannot run
// (webgpu: no synchronous reads). Then the real measurement (choose.ts) on a tiny model records both decoders' step
// times, and 'auto' decodes with the choice in force.
import * as tf from '@tensorflow/tfjs';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { fasterDecoder, fasterRows, rowDecoderFor } from '../../../src/generate/choose.js';
import { HostDecoder, TensorDecoder } from '../../../src/generate/decoder.js';
import {
  chooseDecoder,
  type DecoderTimes,
  decoderCalibrationOf,
  forgetDecoderChoices,
  pickDecoder,
} from '../../../src/generate/decoder-choice.js';
import { createDecoder } from '../../../src/generate/generate.js';
import { type ModelConfig, resolveModelConfig } from '../../../src/model/config.js';
import { initWeights } from '../../../src/model/init.js';
import { Transformer } from '../../../src/model/transformer.js';

const sync = vi.hoisted(() => ({ works: true }));
vi.mock('../../../src/backend/kernels/backends.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../../src/backend/kernels/backends.js')>();
  return { ...original, syncReadsWork: () => sync.works };
});

const shape = (dim: number): ModelConfig =>
  resolveModelConfig(
    { vocabSize: 32, dim, hiddenDim: 16, numLayers: 1, numHeads: 2, numKvHeads: 2, maxSeqLen: 16 },
    'tiny-test',
  );

/** A measurement that returns `times` and counts its calls. */
function injected(times: DecoderTimes) {
  const m = {
    calls: 0,
    run: async () => {
      m.calls++;
      return times;
    },
  };
  return m;
}

afterEach(() => {
  forgetDecoderChoices();
  sync.works = true;
});

describe('pickDecoder', () => {
  it('takes the lower median step time, the host decoder on a tie', () => {
    // medians: host 5, tensor 4 (one slow outlier in the tensor's steps does not count)
    expect(pickDecoder({ host: [5, 6, 4], tensor: [3, 4, 90] })).toEqual({
      host: 5,
      tensor: 4,
      choice: 'tensor',
    });
    expect(pickDecoder({ host: [2, 9, 3], tensor: [4, 4, 4] }).choice).toBe('host');
    expect(pickDecoder({ host: [4], tensor: [4] }).choice).toBe('host');
  });
});

describe('chooseDecoder on injected timings', () => {
  it('measures once per shape and rows, then reuses the choice', async () => {
    const slowHost = injected({ host: [9, 9, 9], tensor: [2, 3, 2] });
    expect(await chooseDecoder(shape(8), 1, slowHost.run)).toBe('tensor');
    expect(await chooseDecoder(shape(8), 1, slowHost.run)).toBe('tensor');
    expect(slowHost.calls).toBe(1);
    expect(decoderCalibrationOf(shape(8), 1)).toMatchObject({ choice: 'tensor', ms: { host: 9, tensor: 2 } });

    const fastHost = injected({ host: [1, 1, 1], tensor: [2, 3, 2] });
    expect(await chooseDecoder(shape(8), 8, fastHost.run)).toBe('host'); // other rows: measured again
    expect(await chooseDecoder(shape(12), 1, fastHost.run)).toBe('host'); // other shape: measured again
    expect(fastHost.calls).toBe(2);
    expect(await chooseDecoder(shape(8), 1, fastHost.run)).toBe('tensor'); // the first measurement stands
    expect(fastHost.calls).toBe(2);

    forgetDecoderChoices();
    expect(await chooseDecoder(shape(8), 1, fastHost.run)).toBe('host');
    expect(fastHost.calls).toBe(3);
  });

  it('takes the tensor decoder without measuring where reads must be asynchronous (webgpu)', async () => {
    sync.works = false;
    const m = injected({ host: [1], tensor: [9] });
    expect(await chooseDecoder(shape(8), 1, m.run)).toBe('tensor');
    expect(m.calls).toBe(0);
    expect(decoderCalibrationOf(shape(8), 1)).toBeUndefined();
  });
});

describe('the measurement on a model', () => {
  let model: Transformer;
  beforeAll(() => {
    const config = resolveModelConfig(
      { vocabSize: 48, dim: 16, hiddenDim: 32, numLayers: 2, numHeads: 4, numKvHeads: 2, maxSeqLen: 32 },
      'tiny-test',
    );
    model = Transformer.fromWeights(config, initWeights(config, 3));
  });
  afterAll(() => model.dispose());

  it('times both decoders, single and in rows, and leaks nothing', async () => {
    const before = tf.memory().numTensors;
    const one = await fasterDecoder(model);
    const rows = await fasterRows(model, 4);
    for (const [n, kind] of [
      [1, one],
      [4, rows],
    ] as const) {
      const cal = decoderCalibrationOf(model.config, n)!;
      expect(cal.choice).toBe(kind);
      expect(cal.ms.host).toBeGreaterThan(0);
      expect(cal.ms.tensor).toBeGreaterThan(0);
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it("'auto' decodes with the choice in force: single sequences and continuous batches", async () => {
    for (const kind of ['tensor', 'host'] as const) {
      forgetDecoderChoices();
      const times = { host: [kind === 'host' ? 1 : 9], tensor: [5] };
      await chooseDecoder(model.config, 1, async () => times);
      await chooseDecoder(model.config, 3, async () => times);
      const single = await createDecoder(model, 'auto');
      expect(single).toBeInstanceOf(kind === 'host' ? HostDecoder : TensorDecoder);
      single.dispose();
      const rows = await rowDecoderFor(model, 'auto', { merged: true, batchSize: 3, caller: 'test' });
      expect(rows.kind).toBe(kind);
    }
  });
});
