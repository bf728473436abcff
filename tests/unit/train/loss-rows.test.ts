// The head on the loss rows only (BatchTensors.lossRows, Transformer.tokenNll's `rows`): the same loss, the same
// NLL on the rows that count (0 on the others) and the same gradients as the head on every row, trained embedding
// included; nothing left behind.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { attachExperts } from '../../../src/experts/attach.js';
import { buildStepRoute } from '../../../src/experts/routing.js';
import { Transformer } from '../../../src/model/transformer.js';
import { batchGradients } from '../../../src/train/step.js';
import { trainableByName } from '../../../src/train/trainer.js';
import { expectClose, onBackend } from '../../helpers/index.js';
import { ids, labels, tiny } from './tiny-batch.js';

/** Rows 0–1 of each sequence and the last of the second count nothing. */
const mask = ids.map((r, b) => r.map((_, t) => (t < 2 || (b === 1 && t === 7) ? 0 : 1)));

async function step(withRows: boolean) {
  const model = Transformer.init(tiny, 'rows');
  attachExperts(model, { initLoraWeights: false, seed: 3 });
  model.namedVariables().get('embedding')!.trainable = true; // the tied table's gradient sums over the rows
  const vars = trainableByName(model);
  const bt = {
    ids: model.idsTensor(ids),
    targets: tf.tensor2d(
      ids.map((r) => [...r.slice(1), r[0]]),
      undefined,
      'int32',
    ),
    lossMask: tf.tensor2d(mask),
    lossRows: withRows
      ? tf.tensor1d(
          mask.flat().flatMap((m, i) => (m ? [i] : [])),
          'int32',
        )
      : undefined,
  };
  const route = buildStepRoute(
    labels.map((r) => [...r]),
    [2, 8],
    { experts: ['analysis', 'guidance', 'answer'], question: 'random', seed: 1, training: true },
  );
  const before = tf.memory().numTensors;
  const out = batchGradients(model, bt, route, vars, 0);
  const made = tf.memory().numTensors - before;
  const grads: Record<string, Float32Array> = {};
  for (const [k, g] of Object.entries(out.grads)) grads[k] = (await g.data()) as Float32Array;
  const result = {
    grads,
    loss: (await out.loss.data())[0],
    nll: (await out.nll.data()) as Float32Array,
    leftBehind: made - Object.keys(out.grads).length - 3,
  };
  tf.dispose([Object.values(out.grads), out.loss, out.nll, out.balance]);
  tf.dispose(Object.values(bt).filter((t) => t !== undefined));
  route.dispose();
  model.dispose();
  return result;
}

describe('the output head on the loss rows only', () => {
  it.each(['wasm', 'cpu'])('on %s: loss, NLL and gradients equal the head on every row', async (backend) => {
    await onBackend(backend, async () => {
      const all = await step(false);
      const some = await step(true);
      expect(some.loss).toBeCloseTo(all.loss, 5);
      mask.flat().forEach((m, i) => {
        if (m) expect(some.nll[i]).toBeCloseTo(all.nll[i], 5);
        else expect(some.nll[i]).toBe(0);
      });
      expect(Object.keys(some.grads).sort()).toEqual(Object.keys(all.grads).sort());
      expect(Object.keys(all.grads)).toContain('embedding');
      for (const k of Object.keys(all.grads)) expectClose(some.grads[k], all.grads[k], 1e-5, 1e-4);
      expect(some.leftBehind).toBe(0);
    });
  });
});
