// Trainable rows of added tokens (Transformer.addTokens) over a model with more embedding rows than its tokenizer
// has ids (padding, as Qwen2.5 has): the new ids take the padding rows first and the vocabulary grows only by the
// rest. The reference for every check is a PLAIN model built from the explicit matrix (frozen rows with the added
// rows written in at their ids), so the splicing of rows and head columns is checked by plain matmuls and gathers.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { HostDecoder } from '../../../src/generate/decoder.js';
import { resolveModelConfig } from '../../../src/model/config.js';
import { Transformer } from '../../../src/model/transformer.js';
import { expectClose, expectNoLeak } from '../../helpers/index.js';

const tiny = resolveModelConfig({}, 'tiny-test'); // vocab 64, d 16

/** A model with 64 rows, the added rows given random values (a trained state, not the mean init). */
function withAdded(tied: boolean, n: number, first: number): Transformer {
  const model = Transformer.init({ ...tiny, tiedEmbeddings: tied }, `added-${tied}`, { trainable: false });
  model.addTokens(n, first);
  tf.tidy(() => {
    model.addedEmbedding!.assign(tf.randomNormal(model.addedEmbedding!.shape, 0, 0.5, 'float32', 7));
    model.addedHead?.assign(tf.randomNormal(model.addedHead.shape, 0, 0.5, 'float32', 8));
  });
  return model;
}

/** The same model as one plain matrix: rows [first, first + n) of the embedding (and head) are the added ones. */
function plainOf(model: Transformer): Transformer {
  const weights = new Map<string, tf.Tensor>();
  for (const [name, v] of model.namedVariables())
    if (name !== 'addedEmbedding' && name !== 'addedHead') weights.set(name, tf.clone(v));
  const V = model.config.vocabSize;
  const d = model.config.dim;
  const n = model.addedEmbedding!.shape[0];
  const s = model.addedStart;
  const rows = (base: Float32Array, added: Float32Array, baseRows: number) => {
    const out = new Float32Array(V * d);
    out.set(base.subarray(0, Math.min(baseRows, V) * d));
    out.set(added, s * d); // (n, d) at row s
    return tf.tensor2d(out, [V, d]);
  };
  const E = model.embedding.dataSync() as Float32Array;
  weights.set(
    'embedding',
    rows(E, model.addedEmbedding!.dataSync() as Float32Array, model.embedding.shape[0]),
  );
  if (model.head) {
    const W = tf.transpose(model.head.weight); // (V₀, d)
    const A = tf.transpose(model.addedHead!); // (n, d)
    const H = rows(W.dataSync() as Float32Array, A.dataSync() as Float32Array, W.shape[0]);
    weights.get('head.weight')!.dispose();
    weights.set('head.weight', tf.transpose(H));
    tf.dispose([W, A, H]);
  }
  expect(n).toBeGreaterThan(0);
  return Transformer.fromWeights({ ...model.config, vocabSize: V }, weights, { trainable: false });
}

const ids = (V: number) => [
  [1, V - 1, 5, 60, 61, 9],
  [V - 2, 62, 63, 0, 7, V - 1],
];

describe('added token rows over padding rows', () => {
  it.each([
    ['tied, all in padding', true, 3, 60, 64],
    ['untied, all in padding', false, 3, 60, 64],
    ['tied, padding then growth', true, 6, 60, 66],
    ['untied, padding then growth', false, 6, 60, 66],
    ['untied, growth only', false, 2, 64, 66],
  ])('%s: logits equal a plain model with the rows written in', (_, tied, n, first, vocab) => {
    const model = withAdded(tied, n, first);
    expect([model.config.vocabSize, model.addedStart, model.embedding.shape[0]]).toEqual([vocab, first, 64]);
    const plain = plainOf(model);
    const a = model.logits(ids(vocab));
    const b = plain.logits(ids(vocab));
    expect(a.shape).toEqual([2, 6, vocab]);
    expectClose(a, b, 1e-5, 1e-5);
    tf.dispose([a, b]);
    plain.dispose();
    model.dispose();
  });

  it.each([
    ['tied', true],
    ['untied', false],
  ])('%s: the host decoder equals the tensor decoder over reused and grown rows', (_, tied) => {
    const model = withAdded(tied, 6, 60);
    const host = new HostDecoder(model);
    const cache = model.newCache(1);
    for (const id of [1, 61, 65, 63, 7, 64]) {
      const a = host.step([[id]])[0];
      const b = model.decode([[id]], cache);
      expect(a.length).toBe(66);
      expectClose(a, b, 1e-4, 1e-4);
      b.dispose();
    }
    cache.dispose();
    model.dispose();
  });

  it.each([
    ['tied', true],
    ['untied', false],
  ])('%s: only the added rows train, with the gradient of those rows in the plain model', (_, tied) => {
    const model = withAdded(tied, 6, 60);
    const plain = plainOf(model);
    expect(model.trainableVariables()).toEqual(
      tied ? [model.addedEmbedding] : [model.addedEmbedding, model.addedHead],
    );
    const input = model.idsTensor(ids(66));
    const loss = (m: Transformer) => () => tf.mean(tf.square(m.forward(input))) as tf.Scalar;
    const ours = tf.variableGrads(loss(model), [model.addedEmbedding!]);
    plain.embedding.trainable = true;
    const theirs = tf.variableGrads(loss(plain), [plain.embedding]);
    // the plain model's gradient at rows 60..65 (tied: embedding and head both contribute, as in ours)
    const rows = tf.slice(theirs.grads[plain.embedding.name], [60, 0], [6, -1]);
    expectClose(ours.grads[model.addedEmbedding!.name], rows, 1e-5, 1e-4);
    tf.dispose([
      ours.value,
      theirs.value,
      rows,
      ...Object.values(ours.grads),
      ...Object.values(theirs.grads),
    ]);
    input.dispose();
    plain.dispose();
    model.dispose();
  });

  it('new rows start at the mean of the rows before the first new id (the padding rows are not averaged)', () => {
    const model = Transformer.init(tiny, 'mean', { trainable: false });
    const mean = tf.tidy(() => tf.mean(tf.slice(model.embedding, [0, 0], [60, -1]), 0, true));
    model.addTokens(2, 60);
    model.addTokens(3); // continues at 62: two more padding rows, then one grown row
    expect([model.addedStart, model.addedEmbedding!.shape[0], model.config.vocabSize]).toEqual([60, 5, 65]);
    const expected = tf.tile(mean, [5, 1]);
    expectClose(model.addedEmbedding!, expected, 1e-6, 1e-6);
    tf.dispose([mean, expected]);
    model.dispose();
  });

  it('refuses a first id that leaves a gap or breaks the run of added rows', () => {
    const model = Transformer.init(tiny, 'gap', { trainable: false });
    expect(() => model.addTokens(2, 65)).toThrow(/first id 65 must be an integer in \[1, 64\]/);
    expect(() => model.addTokens(2, 0)).toThrow(/first id 0/);
    model.addTokens(2, 60);
    expect(() => model.addTokens(1, 63)).toThrow(/first id 63 must be 62, the end of the added rows/);
    model.dispose();
  });

  it('a forward over spliced rows leaks no tensor', async () => {
    const model = withAdded(false, 6, 60);
    await expectNoLeak(() => model.logits(ids(66)).dispose());
    model.dispose();
  });
});
