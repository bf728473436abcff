// The benchmark FLOP counter against hand-computed values, and the expanded-dataset scheme of the efficiency
// benchmark (method.md §2) on a full chain.
import { describe, expect, it } from 'vitest';
import { encodeExpanded, expandChain } from '../../../src/bench/efficiency.js';
import {
  type FlopShape,
  flopShape,
  projectionDims,
  sumFlops,
  trainStepFlops,
} from '../../../src/bench/flops.js';
import { syntheticChains } from '../../../src/bench/train.js';
import { resolveExpertConfig } from '../../../src/experts/config.js';
import { LINEAR_MODULES } from '../../../src/model/transformer.js';
import { STEP_ID } from '../../../src/steps.js';
import { addStepTokens } from '../../../src/tokenizer/index.js';
import { loadLlama2cTokenizer } from '../../../src/tokenizer/llama2c-tokenizer-node.js';
import { TOK512_BIN } from '../../helpers/index.js';

// d = 4, hidden 8, one layer, 2 heads of size 2, 1 kv head (k, v: 4 → 2), vocab 10, rank 2, B = 1, T = 3 (N = 3)
const TINY: FlopShape = {
  dim: 4,
  hiddenDim: 8,
  numLayers: 1,
  numHeads: 2,
  numKvHeads: 1,
  vocabSize: 10,
  targets: LINEAR_MODULES,
  rank: 2,
  expertsPerToken: 2,
  gateExperts: 0,
  trainBase: false,
  trainableVocabRows: 2,
};

describe('trainStepFlops', () => {
  it('MoTE over a frozen base: hand-computed', () => {
    // Σ in·out = q 16 + k 8 + v 8 + o 16 + gate 32 + up 32 + down 32 = 144 → base forward 2·3·144 = 864
    // Σ (in+out) = 8 + 6 + 6 + 8 + 12 + 12 + 12 = 64 → adapters 2 experts · 2·3·2·64 = 1536
    // attention 4·B·T²·d = 4·1·9·4 = 144; head 2·N·d·V = 2·3·4·10 = 240
    // forward 864 + 1536 + 144 + 240 = 2784
    // backward: frozen dx (864 + 240) + 2·1536 + 2·144 + added rows 2·3·4·2 = 1104 + 3072 + 288 + 48 = 4512
    expect(trainStepFlops(TINY, 1, 3)).toEqual({ forward: 2784, backward: 4512, total: 7296 });
  });

  it('full fine-tuning: backward = 2 × forward (dx and dW everywhere)', () => {
    const full = { ...TINY, targets: [], expertsPerToken: 0, trainBase: true, trainableVocabRows: 0 };
    // forward 864 + 144 + 240 = 1248; backward 2·(864 + 240) + 2·144 = 2496
    expect(trainStepFlops(full, 1, 3)).toEqual({ forward: 1248, backward: 2496, total: 3744 });
  });

  it('attention grows with T², linears with T; sums over batch shapes', () => {
    const one = trainStepFlops(TINY, 1, 3).total;
    expect(trainStepFlops(TINY, 2, 3).total).toBe(2 * one);
    const t6 = trainStepFlops(TINY, 1, 6);
    expect(t6.forward).toBe(2 * (864 + 1536 + 240) + 4 * 144);
    expect(
      sumFlops(TINY, [
        [1, 3],
        [2, 3],
      ]).total,
    ).toBe(3 * one);
  });

  it('flopShape: active experts per token for each Table 4 variant', () => {
    const model = {
      dim: 8,
      hiddenDim: 16,
      numLayers: 2,
      numHeads: 2,
      numKvHeads: 2,
      vocabSize: 20,
      maxSeqLen: 16,
      normEps: 1e-5,
      ropeTheta: 1e4,
      tiedEmbeddings: true,
    };
    const per = (preset: Parameters<typeof resolveExpertConfig>[1]) =>
      flopShape(model, resolveExpertConfig({}, preset)).expertsPerToken;
    expect(per('mote')).toBe(2);
    expect(per('mote-no-shared')).toBe(1);
    expect(per('single-lora')).toBe(1);
    expect(per('moe-topk')).toBe(2);
    expect(flopShape(model, resolveExpertConfig({}, 'moe-topk')).gateExperts).toBe(3);
    expect(flopShape(model, null, 4)).toMatchObject({
      trainBase: true,
      expertsPerToken: 0,
      trainableVocabRows: 4,
    });
    expect(projectionDims(flopShape(model, null)).down).toEqual([16, 8]);
  });
});

describe('expanded-dataset scheme', () => {
  const full = { id: 'x', question: 'Pick a lock?', analysis: 'Risky.', guidance: 'Decline.', answer: 'No.' };

  it('7 sequences for a full chain, 3 with analysis only, 1 for an answer-only chain', () => {
    expect(expandChain(full).map((e) => e.chain.id)).toEqual([
      'x/analysis',
      'x/guidance',
      'x/analysis+guidance',
      'x/answer',
      'x/analysis+answer',
      'x/guidance+answer',
      'x/analysis+guidance+answer',
    ]);
    expect(expandChain({ id: 'y', question: 'q', analysis: 'a', answer: 'A' })).toHaveLength(3);
    expect(expandChain({ id: 'z', question: 'q', answer: 'A' })).toHaveLength(1);
  });

  it('the loss covers the target step only (EOS only after the answer)', async () => {
    const tok = await loadLlama2cTokenizer(TOK512_BIN, 512);
    addStepTokens(tok);
    for (const item of expandChain(full)) {
      const e = encodeExpanded(item, tok, 128)!;
      const labels = [...e.lossMask.keys()]
        .filter((i) => e.lossMask[i] === 1)
        .map((i) => (i + 1 < e.ids.length ? e.stepIds[i + 1] : e.stepIds[i]));
      expect(new Set(labels), item.chain.id).toEqual(new Set([STEP_ID[item.target]]));
      expect(e.lossMask[e.ids.length - 1], item.chain.id).toBe(item.target === 'answer' ? 1 : 0);
    }
  });

  it('synthetic benchmark chains: full rows, all three steps, loss on all but the question', () => {
    const [c] = syntheticChains(1, 16, 50, 's');
    expect([...c.stepIds]).toEqual([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]);
    expect([...c.lossMask]).toEqual([0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
    expect([...c.targets.slice(0, 15)]).toEqual([...c.ids.slice(1)]);
  });
});
