// The memory estimator: its parameter count equals the built model's, and each part equals the count written out
// by hand for a small shape.
import { describe, expect, it } from 'vitest';
import { type ModelConfig, resolveModelConfig } from '../../../src/model/config.js';
import { estimateMemory, parameterCount, WASM_HEAP_LIMIT_BYTES } from '../../../src/model/memory.js';
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
    // per token 4d + 4q + 4kv + 5h = 32 + 32 + 16 + 80 = 160; 6 tokens; scores 2·B·heads·T² = 72
    expect(inf.activations).toBe((6 * 160 + 72) * 4);
    expect(inf.logits).toBe((2 * 10 + 80) * 4); // one row per sequence + the tied table's transpose
    const tr = e.backends.wasm.training.parts;
    // adapters: 4 experts × rank 2 × (in + out) summed over q (16), k (12), v (12), o (16), gate/up/down (24 each)
    const adapters = 4 * 2 * (16 + 12 + 12 + 16 + 24 * 3);
    expect(tr.adapters).toBe(adapters * 4);
    expect(tr.adapterGradientsAndMoments).toBe(3 * adapters * 4);
    expect(tr.transposed).toBe((64 + 32 + 32 + 64 + 3 * 128) * 4);
    expect(tr.activations).toBe((6 * 160 + 72) * 4 + 6 * 7 * 2 * 2 * 4); // + LoRA rank activations: 7 projections × 2 experts × r
    expect(tr.logits).toBe((3 * 6 * 10 + 2 * 80) * 4);
    expect(e.backends.wasm.training.total).toBe(Object.values(tr).reduce((a, b) => a + b, 0));
  });

  it('only wasm keeps transposed weights and has a heap limit', () => {
    expect(e.backends.cpu.training.parts.transposed).toBeUndefined();
    expect(e.backends.cpu.limitBytes).toBeNull();
    expect(e.backends.wasm.limitBytes).toBe(WASM_HEAP_LIMIT_BYTES);
    expect(e.backends.wasm.training.total - e.backends.cpu.training.total).toBe(
      e.backends.wasm.training.parts.transposed,
    );
  });

  it('the Qwen2.5-0.5B shape does not train in the wasm heap at seq 512; the SmolLM2-135M shape does', () => {
    const qwen = resolveModelConfig({
      dim: 896,
      hiddenDim: 4864,
      numLayers: 24,
      numHeads: 14,
      numKvHeads: 2,
      vocabSize: 151936,
      maxSeqLen: 512,
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
    expect(estimateMemory(qwen).backends.wasm.training.total).toBeGreaterThan(WASM_HEAP_LIMIT_BYTES);
    expect(estimateMemory(smol).backends.wasm.training.total).toBeLessThan(WASM_HEAP_LIMIT_BYTES);
  });

  it('refuses bad options, naming them', () => {
    expect(() => estimateMemory(c, { seqLen: 0 })).toThrow(/seqLen = 0; expected a positive integer/);
    expect(() => estimateMemory(c, { targets: ['q', 'w1' as never] })).toThrow(/targets = \["q","w1"\]/);
  });
});
