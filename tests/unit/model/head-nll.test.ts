// The head fused with the token NLL over vocabulary chunks (src/model/fused/head-nll.ts) against the unchunked
// composition on the cpu backend: logits = h·Eᵀ (or h·W), then −log softmax at the target. Both layouts, with and
// without added token rows, one chunk or several uneven ones, logits kept or recomputed, targets outside the
// vocabulary; values and gradients of h and of every weight part; no tensor left behind.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { resolveModelConfig } from '../../../src/model/config.js';
import { headNll, type VocabWeights } from '../../../src/model/fused/head-nll.js';
import { tokenNllComposed } from '../../../src/model/fused/token-nll.js';
import { Transformer } from '../../../src/model/transformer.js';
import { expectClose, onBackend, seededNormal } from '../../helpers/index.js';

const N = 19; // ≥ 16 rows: the SIMD products on wasm
const d = 6;
const V0 = 37;
const ADDED = 3;
/** Targets in the base part, in the added part, and outside [0, V) (no loss, no gradient). */
const TARGETS = [0, 5, 36, 37, 39, 12, -1, 40, 20, 38, 1, 7, 7, 30, 2, 39, 11, 25, 3];

function setup(layout: VocabWeights['layout'], added: boolean) {
  const h = seededNormal([N, d], 'h') as tf.Tensor2D;
  const shape = (n: number) => (layout === 'rows' ? [n, d] : [d, n]);
  const parts = [seededNormal(shape(V0), 'base'), ...(added ? [seededNormal(shape(ADDED), 'added')] : [])];
  const V = V0 + (added ? ADDED : 0);
  const targets = tf.tensor1d(
    TARGETS.map((t) => (t >= V && t < V0 + ADDED ? t - ADDED : t)),
    'int32',
  );
  const probe = seededNormal([N], 'probe') as tf.Tensor1D;
  return { h, parts: parts as tf.Tensor2D[], targets, probe };
}

/** nll and the gradients of Σ probe·nll for h and every part, through `nll`. */
function valueAndGrads(
  s: ReturnType<typeof setup>,
  nll: (h: tf.Tensor2D, parts: tf.Tensor2D[]) => tf.Tensor1D,
): number[][] {
  const value = tf.tidy(() => nll(s.h, s.parts));
  const grads = tf.grads((h: tf.Tensor, ...parts: tf.Tensor[]) =>
    tf.sum(tf.mul(nll(h as tf.Tensor2D, parts as tf.Tensor2D[]), s.probe)),
  )([s.h, ...s.parts]);
  const out = [value, ...grads].map((t) => Array.from(t.dataSync()));
  tf.dispose([value, ...grads]);
  return out;
}

const composed =
  (layout: VocabWeights['layout'], targets: tf.Tensor1D) => (h: tf.Tensor2D, parts: tf.Tensor2D[]) => {
    const w = parts.length > 1 ? tf.concat(parts, layout === 'rows' ? 0 : 1) : parts[0];
    const logits = layout === 'rows' ? tf.matMul(h, w, false, true) : tf.matMul(h, w);
    return tokenNllComposed(logits as tf.Tensor2D, targets);
  };

describe('headNll', () => {
  const cases = [
    ['rows', true, 8, true],
    ['rows', true, 16, false],
    ['rows', false, 64, true],
    ['cols', true, 8, false],
    ['cols', false, 16, true],
  ] as const;
  it.each(cases)(
    '%s layout, added rows %s, chunks of %i, logits kept %s: equals the unchunked composition on cpu',
    async (layout, added, chunk, keepLogits) => {
      const s = setup(layout, added);
      const fused = (h: tf.Tensor2D, parts: tf.Tensor2D[]) =>
        headNll(h, { layout, parts }, s.targets, { chunk, keepLogits });
      const want = await onBackend('cpu', () => valueAndGrads(s, composed(layout, s.targets)));
      for (const backend of ['cpu', 'wasm']) {
        const got = await onBackend(backend, () => {
          const before = tf.memory().numTensors;
          const r = valueAndGrads(s, fused);
          expect(tf.memory().numTensors, 'tensors left behind').toBe(before);
          return r;
        });
        expect(got[0][6]).toBe(0); // target −1
        for (let i = 0; i < want.length; i++) expectClose(got[i], want[i], 1e-5, 1e-5);
      }
      tf.dispose([s.h, ...s.parts, s.targets, s.probe]);
    },
  );

  it('Transformer.tokenNll equals tokenNll of the logits, with added token rows, tied and untied', async () => {
    for (const tiedEmbeddings of [true, false]) {
      const model = Transformer.init(resolveModelConfig({ tiedEmbeddings }, 'tiny-test'), 'head');
      model.addTokens(2);
      const ids = model.idsTensor([
        [1, 64, 3, 65, 9],
        [2, 2, 65, 0, 63],
      ]);
      const targets = tf.tensor1d([64, 3, 65, 9, 1, 2, 65, 0, 63, 64], 'int32');
      const [got, want] = tf.tidy(() => [
        model.tokenNll(ids, targets),
        tokenNllComposed(model.forward(ids), targets),
      ]);
      expectClose(got, want, 1e-5, 1e-5);
      tf.dispose([got, want, ids, targets]);
      model.dispose();
    }
  });
});
