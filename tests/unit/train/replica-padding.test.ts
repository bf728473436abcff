// A worker replica of a model whose added token rows sit over padding rows (a Qwen2.5-like base: more embedding rows
// than tokenizer ids): the replica takes the added rows at the same ids (Transformer.addedStart), so it has the
// model's variables, vocabulary and logits, tied or untied.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { attachExperts, decodeRoute, withRoute } from '../../../src/experts/index.js';
import { Transformer } from '../../../src/model/transformer.js';
import { buildReplica, replicaSpec, specMismatch } from '../../../src/train/parallel/replica.js';
import { expectClose } from '../../helpers/index.js';

describe('replica of a model with added rows over padding', () => {
  it.each([
    ['tied', true],
    ['untied', false],
  ])('%s: same added rows at the same ids, same logits', async (_, tied) => {
    const model = Transformer.init(
      {
        dim: 16,
        hiddenDim: 24,
        numLayers: 2,
        numHeads: 2,
        numKvHeads: 1,
        vocabSize: 32,
        tiedEmbeddings: tied,
      },
      'replica-padding',
      { trainable: false },
    );
    model.addTokens(6, 28); // ids 28..33: four padding rows, two grown
    tf.tidy(() => {
      model.addedEmbedding!.assign(tf.randomNormal(model.addedEmbedding!.shape, 0, 1, 'float32', 3));
      model.addedHead?.assign(tf.randomNormal(model.addedHead.shape, 0, 1, 'float32', 4));
    });
    attachExperts(model, { rank: 2, initLoraWeights: false });
    const spec = await replicaSpec(model, 0);
    expect([spec.model.vocabSize, spec.addedStart, spec.addedTokens]).toEqual([32, 28, 6]);
    const replica = buildReplica(spec);
    expect([replica.model.addedStart, replica.model.config.vocabSize]).toEqual([28, 34]);
    expect(await specMismatch(spec, replica.model, 0)).toBeNull();
    const ids = [[1, 29, 33, 30, 5, 31]];
    const ctx = withRoute(decodeRoute(['analysis', 'guidance', 'answer'], 'analysis', { merged: false }));
    const [a, b] = [model.logits(ids, { ctx }), replica.model.logits(ids, { ctx })];
    expectClose(b, a, 0, 0);
    tf.dispose([a, b]);
    replica.model.dispose();
    model.dispose();
  });
});
