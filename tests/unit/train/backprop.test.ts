// leanGradients against tfjs's own gradients(): the same numbers (bit for bit: the same gradient functions run in
// the same order), no tensor left behind, and the memory of a backward pass that no longer grows with the depth
// of the graph.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { attachExperts } from '../../../src/experts/attach.js';
import { buildStepRoute, withRoute } from '../../../src/experts/routing.js';
import { maskedMeanNll, tokenNll } from '../../../src/model/loss.js';
import { Transformer } from '../../../src/model/transformer.js';
import { leanGradients } from '../../../src/train/backprop.js';
import { onBackend } from '../../helpers/index.js';
import { ids, labels, tiny } from './tiny-batch.js';

/** Gradients of a MoTE model's masked NLL by both paths, read back to the host. */
async function bothPaths() {
  const model = Transformer.init(tiny, 'lean');
  attachExperts(model, { initLoraWeights: false, seed: 3 }); // B ≠ 0: every factor gets a gradient
  const vars = model.trainableVariables();
  const input = model.idsTensor(ids);
  const targets = tf.tensor1d(
    ids.flatMap((r) => [...r.slice(1), r[0]]),
    'int32',
  );
  const mask = tf.tensor1d(Array.from({ length: 16 }, (_, i) => (i % 8 >= 2 ? 1 : 0)));
  const route = buildStepRoute(
    labels.map((r) => [...r]),
    [2, 8],
    { experts: ['analysis', 'guidance', 'answer'], question: 'random', seed: 1, training: true },
  );
  const loss = () => maskedMeanNll(tokenNll(model.forward(input, { ctx: withRoute(route) }), targets), mask);
  const tfjs = tf.variableGrads(loss, vars); // first: the route caches its index tensors on the first forward
  const before = tf.memory().numTensors;
  const lean = leanGradients(loss, vars);
  const afterLean = tf.memory().numTensors;
  const read = (ts: (tf.Tensor | undefined)[]) => ts.map((t) => Array.from(t!.dataSync()));
  const out = {
    lean: read(lean.grads),
    tfjs: read(vars.map((v) => tfjs.grads[v.name])),
    values: [lean.value.dataSync()[0], tfjs.value.dataSync()[0]],
    leftBehind: afterLean - before - 1 - lean.grads.length,
  };
  tf.dispose([lean.value, ...(lean.grads as tf.Tensor[]), tfjs.value, ...Object.values(tfjs.grads)]);
  tf.dispose([input, targets, mask]);
  route.dispose();
  model.dispose();
  return out;
}

describe('leanGradients', () => {
  it.each(['wasm', 'cpu'])(
    'gives the gradients of tf.variableGrads bit for bit on %s, leaving no tensor behind',
    async (backend) => {
      const r = await onBackend(backend, bothPaths);
      expect(r.values[0]).toBe(r.values[1]);
      expect(r.lean.length).toBeGreaterThan(10);
      for (const [i, g] of r.lean.entries()) expect(g).toEqual(r.tfjs[i]);
      expect(r.leftBehind).toBe(0);
    },
  );

  it('keeps a bounded number of tensors alive during the backward pass, however deep the graph', () => {
    // y = Σ tanh(…tanh(x·w)…): tfjs keeps every link's gradient to the end, the lean path two or three at a time.
    // A probe op on w, the start of the chain, records the live tensor count when its gradient runs, which is last.
    let live = 0;
    const probe = tf.customGrad((x) => ({
      value: tf.clone(x as tf.Tensor),
      gradFunc: (dy: tf.Tensor) => {
        live = tf.memory().numTensors;
        return tf.clone(dy);
      },
    }));
    const w = tf.variable(tf.fill([64, 64], 0.01));
    const x = tf.ones([4, 64]);
    const chain = (depth: number) => () => {
      let h = tf.matMul(x as tf.Tensor2D, probe(w) as tf.Tensor2D);
      for (let i = 0; i < depth; i++) h = tf.tanh(h);
      return tf.sum(h) as tf.Scalar;
    };
    const liveDuring = (grads: (f: () => tf.Scalar) => tf.Tensor[]) => (depth: number) => {
      const base = tf.memory().numTensors;
      const out = grads(chain(depth));
      tf.dispose(out);
      expect(tf.memory().numTensors).toBe(base);
      return live - base;
    };
    const lean = liveDuring((f) => {
      const r = leanGradients(f, [w]);
      return [r.value, r.grads[0]!];
    });
    const tfjs = liveDuring((f) => {
      const r = tf.variableGrads(f, [w]);
      return [r.value, r.grads[w.name]];
    });
    expect(tfjs(40) - tfjs(10)).toBeGreaterThanOrEqual(30); // one per link at least
    expect(lean(40)).toBe(lean(10));
    expect(lean(40)).toBeLessThan(10);
    tf.dispose([w, x]);
  });
});
