// Activation checkpointing (train/checkpoint-blocks.ts) against the step without it: the same loss, NLL and
// gradients (bit for bit: the recomputed forward runs the same kernels on the same inputs), adapter dropout
// replayed, no gradient for a variable the block does not reach (as without checkpointing), nothing left behind; its
// memory estimate by hand; learned top-k gates refused.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { attachExperts } from '../../../src/experts/attach.js';
import { buildStepRoute } from '../../../src/experts/routing.js';
import { headSize } from '../../../src/model/config.js';
import { estimateMemory } from '../../../src/model/memory.js';
import { Transformer } from '../../../src/model/transformer.js';
import { leanGradients } from '../../../src/train/backprop.js';
import { checkpointBlocks } from '../../../src/train/checkpoint-blocks.js';
import { batchGradients } from '../../../src/train/step.js';
import { train, trainableByName } from '../../../src/train/trainer.js';
import { ConfigError } from '../../../src/util/errors.js';
import { onBackend } from '../../helpers/index.js';
import { ids, labels, tiny } from './tiny-batch.js';

/** One micro-batch's gradients of a fresh MoTE model (same seeds every time), read back to the host. */
async function step(checkpointing: boolean, dropout: number) {
  const model = Transformer.init(tiny, 'ckpt');
  attachExperts(model, { initLoraWeights: false, seed: 3, dropout }); // B ≠ 0: the factors get gradients
  const vars = trainableByName(model);
  const bt = {
    ids: model.idsTensor(ids),
    targets: tf.tensor2d(ids.map((r) => [...r.slice(1), r[0]])),
    lossMask: tf.tensor2d(ids.map((r) => r.map((_, t) => (t >= 2 ? 1 : 0)))),
  };
  bt.targets = bt.targets.toInt();
  const route = buildStepRoute(
    labels.map((r) => [...r]),
    [2, 8],
    { experts: ['analysis', 'guidance', 'answer'], question: 'random', seed: 1, training: true },
  );
  const before = tf.memory().numTensors;
  const out = batchGradients(model, bt, route, vars, 0, checkpointing);
  const made = tf.memory().numTensors - before;
  const read = async (t: tf.Tensor) => Array.from((await t.data()) as Float32Array);
  const grads: Record<string, number[]> = {};
  for (const [k, g] of Object.entries(out.grads)) grads[k] = await read(g);
  const result = {
    grads,
    loss: (await out.loss.data())[0],
    nll: await read(out.nll),
    leftBehind: made - Object.keys(out.grads).length - 3, // the gradients, loss, NLL and balance are the caller's
  };
  tf.dispose([Object.values(out.grads), out.loss, out.nll, out.balance]);
  tf.dispose(Object.values(bt));
  route.dispose();
  model.dispose();
  return result;
}

describe('activation checkpointing', () => {
  it.each(['wasm', 'cpu'])(
    'on %s: the loss, NLL and every gradient equal the step without it, dropout included',
    async (backend) => {
      await onBackend(backend, async () => {
        for (const dropout of [0, 0.25]) {
          const plain = await step(false, dropout);
          const ckpt = await step(true, dropout);
          expect(ckpt.loss).toBe(plain.loss);
          expect(ckpt.nll).toEqual(plain.nll);
          expect(Object.keys(ckpt.grads).sort()).toEqual(Object.keys(plain.grads).sort());
          for (const k of Object.keys(plain.grads)) expect(ckpt.grads[k], k).toEqual(plain.grads[k]);
          expect(ckpt.leftBehind).toBe(0);
          expect(plain.leftBehind).toBe(0);
        }
      });
    },
  );

  it('records a variable the recomputed block does not reach, and its gradient is dropped like a missing one', () => {
    const x = tf.tensor2d([
      [1, 2],
      [3, -1],
    ]);
    const used = tf.variable(tf.tensor2d([[0.5], [-2]]), true, 'used');
    const unused = tf.variable(tf.tensor1d([7]), true, 'unused');
    const mask = tf.zeros([2, 2]);
    const apply = (h: tf.Tensor2D) => tf.tanh(tf.matMul(h, used)) as tf.Tensor2D; // (2, 1)
    const { runBlock, unreached } = checkpointBlocks();
    const f = (run: boolean) => () =>
      tf.sum(run ? runBlock({ apply, x, mask, variables: [used, unused] }) : apply(x)) as tf.Scalar;
    const ckpt = leanGradients(f(true), [used, unused]);
    const plain = leanGradients(f(false), [used, unused]);
    expect(ckpt.grads[0]!.arraySync()).toEqual(plain.grads[0]!.arraySync());
    expect(plain.grads[1]).toBeUndefined();
    expect(ckpt.grads[1]!.arraySync()).toEqual([0]); // customGrad wants a tensor: a zero, and a note of it
    expect([...unreached]).toEqual([unused]);
    tf.dispose([x, used, unused, mask, ckpt.value, plain.value, ...(ckpt.grads as tf.Tensor[])]);
    tf.dispose(plain.grads[0]);
  });

  it('keeps one block of activations: the estimate by hand', () => {
    const c = tiny;
    const o = { seqLen: 64, batchSize: 2, rank: 4 };
    const plain = estimateMemory(c, o).backends.cpu.training.parts.activations;
    const ckpt = estimateMemory(c, { ...o, activationCheckpointing: true }).backends.cpu.training.parts
      .activations;
    const N = 128;
    const q = headSize(c) * c.numHeads;
    const kv = headSize(c) * c.numKvHeads;
    const layerSaved =
      N * (4 * c.dim + 2 * q + 3 * kv + 3 * c.hiddenDim + 7 * 2 * 4) + 2 * c.numHeads * 64 * 64;
    expect(plain).toBe(c.numLayers * layerSaved * 4);
    expect(ckpt).toBe((c.numLayers * N * c.dim + layerSaved) * 4);
  });

  it('is refused with learned top-k gates, naming the key', async () => {
    const model = Transformer.init(tiny, 'ckpt');
    attachExperts(model, { kind: 'moe-topk', numExperts: 3, topK: 2 });
    const chains = [{ ids: [1, 2, 3, 4, 5], stepIds: [0, 1, 1, 3, 3] }];
    const err = await train(
      model,
      { train: chains as never },
      { epochs: 1, activationCheckpointing: true },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/activationCheckpointing.*moe-topk/);
    model.dispose();
  });
});
