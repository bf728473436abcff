// The memory estimator: its parameter count equals the built model's, and each part equals the count written out
// by hand for a small shape.
import { describe, expect, it } from 'vitest';
import { type ModelConfig, resolveModelConfig } from '../../../src/model/config.js';
import {
  checkTrainingFits,
  estimateMemory,
  MemoryRefusedError,
  parameterCount,
  WASM_HEAP_LIMIT_BYTES,
  WASM_HEAP_OVERHEAD,
} from '../../../src/model/memory.js';
import { Transformer } from '../../../src/model/transformer.js';

describe('parameterCount', () => {
  it.each<[Partial<ModelConfig>]>([
    [{}],
    [{ tiedEmbeddings: false }],
    [{ dim: 24, numHeads: 4, numKvHeads: 2, headDim: 8, biases: ['q', 'k', 'v'] }],
    [{ dim: 16, numHeads: 2, numKvHeads: 1, headDim: 6, biases: ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] }],
  ])('equals the parameters of the built model for %j', (partial) => {
    const model = Transformer.init(partial, 1);
    expect(parameterCount(model.config)).toBe(model.parameterCount());
    model.dispose();
  });
});

describe('estimateMemory', () => {
  // d 8, hidden 16, 1 layer, 2 heads of 4 (kv 1), vocab 10, tied; rank 2, 3 + 1 experts, seq 3, batch 2
  const c = resolveModelConfig({
    dim: 8,
    hiddenDim: 16,
    numLayers: 1,
    numHeads: 2,
    numKvHeads: 1,
    vocabSize: 10,
    maxSeqLen: 8,
  });
  const e = estimateMemory(c, { rank: 2, seqLen: 3, batchSize: 2 });

  it('counts each part as its header says (by hand for a small shape)', () => {
    // parameters: embedding 80 + norms 16 + q 64 + k 32 + v 32 + o 64 + gate/up/down 3·128 + final norm 8 = 680
    expect(e.parameters).toBe(680);
    const inf = e.backends.wasm.inference.parts;
    expect(inf.weights).toBe(680 * 4);
    expect(inf.kvCache).toBe(2 * 1 * 2 * 3 * 4 * 4); // k and v, 1 layer, batch 2, 3 positions, kvDim 4
    // one block: per token 4d + 4q + 4kv + 3h = 32 + 32 + 16 + 48 = 128; 6 tokens; scores and probs 2·B·heads·T² = 72
    expect(inf.activations).toBe((6 * 128 + 72) * 4);
    expect(inf.logits).toBe(2 * 10 * 4); // one row per sequence
    const tr = e.backends.wasm.training.parts;
    // adapters: 4 experts × rank 2 × (in + out) summed over q (16), k (12), v (12), o (16), gate/up/down (24 each)
    const adapters = 4 * 2 * (16 + 12 + 12 + 16 + 24 * 3);
    expect(tr.adapters).toBe(adapters * 4);
    expect(tr.adapterGradientsAndMoments).toBe(3 * adapters * 4);
    // saved per token: 4d + 2q + 3kv + 3h + 7 projections × 2 experts × r = 32 + 16 + 12 + 48 + 28 = 136; probs B·heads·T² = 36
    const layer = 6 * 136 + 36;
    expect(tr.activations).toBe(layer * 4);
    expect(tr.workingSet).toBe((layer + 2 * 36) * 4);
    // the 6 × 10 logits are kept; two chunks of min(1024, V) entries per token
    expect(tr.logits).toBe((6 * 10 + 2 * 6 * 10) * 4);
    const { heapOverhead, ...tensors } = tr;
    const held = Object.values(tensors).reduce((a, b) => a + b, 0);
    expect(heapOverhead).toBe(Math.round(WASM_HEAP_OVERHEAD * held));
    expect(e.backends.wasm.training.total).toBe(held + heapOverhead);
    expect(e.backends.cpu.training.parts).toEqual(tensors); // no wasm heap there
    expect(e.backends.cpu.training.total).toBe(held);
  });

  it('takes the trainable parameters of a built run when given', () => {
    const full = estimateMemory(c, { rank: 2, seqLen: 3, batchSize: 2, trainableParameters: 680 });
    expect(full.backends.cpu.training.parts.adapters).toBe(680 * 4);
    expect(full.backends.cpu.training.parts.adapterGradientsAndMoments).toBe(3 * 680 * 4);
  });

  it('only wasm has a heap limit', () => {
    expect(e.backends.cpu.limitBytes).toBeNull();
    expect(e.backends.wasm.limitBytes).toBe(WASM_HEAP_LIMIT_BYTES);
  });

  it('in the wasm heap, the Qwen2.5-0.5B shape trains at seq 256 but not 512; the SmolLM2-135M shape at 512', () => {
    const qwen = resolveModelConfig({
      dim: 896,
      hiddenDim: 4864,
      numLayers: 24,
      numHeads: 14,
      numKvHeads: 2,
      vocabSize: 151936,
      maxSeqLen: 1024,
      biases: ['q', 'k', 'v'],
    });
    const smol = resolveModelConfig({
      dim: 576,
      hiddenDim: 1536,
      numLayers: 30,
      numHeads: 9,
      numKvHeads: 3,
      vocabSize: 49152,
      maxSeqLen: 512,
    });
    expect(estimateMemory(qwen, { seqLen: 256 }).backends.wasm.training.total).toBeLessThan(
      WASM_HEAP_LIMIT_BYTES,
    );
    expect(estimateMemory(qwen, { seqLen: 512 }).backends.wasm.training.total).toBeGreaterThan(
      WASM_HEAP_LIMIT_BYTES,
    );
    expect(() => checkTrainingFits(qwen, { seqLen: 512 }, WASM_HEAP_LIMIT_BYTES, 'train')).toThrow(
      MemoryRefusedError,
    );
    expect(estimateMemory(smol).backends.wasm.training.total).toBeLessThan(WASM_HEAP_LIMIT_BYTES);
  });

  it('checkTrainingFits returns the estimate when it fits, else refuses naming the parts and what to lower', () => {
    // 10 trainable parameters: the activations and logits are the largest part, so sequence length comes first
    const o = { rank: 2, seqLen: 3, batchSize: 2, trainableParameters: 10 };
    const total = estimateMemory(c, o).backends.wasm.training.total;
    expect(checkTrainingFits(c, o, total, 'train').total).toBe(total);
    let error: MemoryRefusedError | undefined;
    try {
      checkTrainingFits(c, o, total - 1, 'train');
    } catch (err) {
      error = err as MemoryRefusedError;
    }
    expect(error).toBeInstanceOf(MemoryRefusedError);
    expect(error?.estimate.total).toBe(total);
    expect(error?.limitBytes).toBe(total - 1);
    expect(error?.message).toMatch(/^train: training needs about .* GiB \(weights .*activations .*logits/);
    expect(error?.message).toMatch(/seqLen 3 × microBatchSize 2/);
    expect(error?.message).toMatch(
      /lower seqLen \(3\) or microBatchSize \(2\).*; or the model .*; or the trainable/,
    );
  });

  it('refuses bad options, naming them', () => {
    expect(() => estimateMemory(c, { seqLen: 0 })).toThrow(/seqLen = 0; expected a positive integer/);
    expect(() => estimateMemory(c, { targets: ['q', 'w1' as never] })).toThrow(/targets = \["q","w1"\]/);
  });
});
