// A worker replica of a model whose projections carry biases (Qwen2: q, k, v): the biases are base parameters
// (rebuilt from the snapshot, frozen), not adapters, and the replica computes the model's logits.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { attachExperts, decodeRoute, withRoute } from '../../../src/experts/index.js';
import { Transformer } from '../../../src/model/transformer.js';
import { buildReplica, replicaSpec } from '../../../src/train/parallel/replica.js';
import { expectClose } from '../../helpers/index.js';

describe('replica of a model with biases', () => {
  it('rebuilds the biases as frozen base parameters, with the model’s logits', async () => {
    const model = Transformer.init(
      {
        dim: 16,
        hiddenDim: 24,
        numLayers: 2,
        numHeads: 2,
        numKvHeads: 1,
        vocabSize: 32,
        biases: ['q', 'k', 'v'],
      },
      'replica-bias',
      { trainable: false },
    );
    for (const s of model.linearSlots()) {
      const b = s.get().bias;
      if (b) b.assign(tf.randomNormal(b.shape, 0, 0.5, 'float32', s.layer + 7));
    }
    attachExperts(model, { rank: 2, initLoraWeights: false });
    const spec = await replicaSpec(model, 0);
    const biases = spec.params.filter((p) => p.name.endsWith('.bias'));
    expect(biases.map((p) => [p.role, p.trainable])).toEqual(Array(6).fill(['base', false]));
    const replica = buildReplica(spec);
    const ctx = withRoute(decodeRoute(['analysis', 'guidance', 'answer'], 'answer', { merged: false }));
    const ids = [[1, 4, 9, 2, 30]];
    const [a, b] = [model.logits(ids, { ctx }), replica.model.logits(ids, { ctx })];
    expectClose(b, a, 0, 0);
    tf.dispose([a, b]);
    replica.model.dispose();
    model.dispose();
  });
});
