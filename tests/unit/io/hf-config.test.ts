// config.json of real models (../shared/models/hf, written by or from transformers) read into ModelConfigs, and
// every unsupported setting refused with an error naming the file, the field, its value and what is supported.
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { describeHfConfig, hfConfigFromModel } from '../../../src/io/hf-llama-config.js';
import { headSize } from '../../../src/model/config.js';
import { parameterCount } from '../../../src/model/memory.js';
import { ROOT } from '../../helpers/index.js';

const HF = `${ROOT}../shared/models/hf`;
const read = async (name: string) =>
  JSON.parse(await readFile(`${HF}/${name}/config.json`, 'utf8')) as Record<string, unknown>;

describe('real config.json files', () => {
  // parameter counts: the totals the models' safetensors hold (transformers' num_parameters())
  it.each([
    [
      'smollm2-135m-instruct',
      'llama',
      { dim: 576, numLayers: 30, numHeads: 9, numKvHeads: 3, headDim: 64, hiddenDim: 1536, vocabSize: 49152 },
      { tiedEmbeddings: true, ropeTheta: 100000, bosTokenId: 1, eosTokenIds: [2], padTokenId: 2, biases: [] },
      134_515_008,
    ],
    [
      'tinyllama-1.1b-chat-v1.0',
      'llama',
      {
        dim: 2048,
        numLayers: 22,
        numHeads: 32,
        numKvHeads: 4,
        headDim: 64,
        hiddenDim: 5632,
        vocabSize: 32000,
      },
      { tiedEmbeddings: false, maxSeqLen: 2048, eosTokenIds: [2], biases: [] },
      1_100_048_384,
    ],
    [
      'qwen2.5-0.5b-instruct',
      'qwen2',
      {
        dim: 896,
        numLayers: 24,
        numHeads: 14,
        numKvHeads: 2,
        headDim: 64,
        hiddenDim: 4864,
        vocabSize: 151936,
      },
      { tiedEmbeddings: true, ropeTheta: 1e6, normEps: 1e-6, eosTokenIds: [151645], biases: ['q', 'k', 'v'] },
      494_032_768,
    ],
    [
      'qwen2-1.5b-instruct',
      'qwen2',
      {
        dim: 1536,
        numLayers: 28,
        numHeads: 12,
        numKvHeads: 2,
        headDim: 128,
        hiddenDim: 8960,
        vocabSize: 151936,
      },
      { tiedEmbeddings: true, bosTokenId: 151643, biases: ['q', 'k', 'v'] },
      1_543_714_304,
    ],
    [
      'llama-3.2-1b-instruct',
      'llama',
      {
        dim: 2048,
        numLayers: 16,
        numHeads: 32,
        numKvHeads: 8,
        headDim: 64,
        hiddenDim: 8192,
        vocabSize: 128256,
      },
      {
        tiedEmbeddings: true,
        ropeTheta: 500000,
        ropeScaling: {
          type: 'llama3',
          factor: 32,
          lowFreqFactor: 1,
          highFreqFactor: 4,
          originalMaxPositions: 8192,
        },
        bosTokenId: 128000,
        eosTokenIds: [128001, 128008, 128009],
        biases: [],
      },
      1_235_814_400,
    ],
  ])('%s loads as %s with its shapes', async (name, family, shape, rest, parameters) => {
    const file = `${HF}/${name}/config.json`;
    const d = describeHfConfig(await read(name), file, { maxSeqLen: 4096 });
    expect(d.family).toBe(family);
    expect(d.torchDtype).toBe('bfloat16');
    expect({ ...d.config, headDim: headSize(d.config) }).toMatchObject({ ...shape, ...rest });
    expect(d.config.headDim).toBeNull(); // head_dim = hidden_size / heads in all five: stored as the default
    expect(d.config.maxSeqLen).toBe(Math.min(4096, (await read(name)).max_position_embeddings as number));
    expect(parameterCount(d.config)).toBe(parameters);
    // written back and read again: the same config
    const again = describeHfConfig(hfConfigFromModel(d.config), file);
    expect(again.family).toBe(family);
    expect(again.config).toEqual(d.config);
  });
});

describe('config.json refusals', () => {
  const LLAMA = {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: 32,
    intermediate_size: 64,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    vocab_size: 100,
    max_position_embeddings: 256,
  };
  const QWEN = { ...LLAMA, architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2' };
  const MISTRAL = { ...LLAMA, architectures: ['MistralForCausalLM'], model_type: 'mistral' };
  const f = '/m/config.json';

  it.each([
    [
      { ...LLAMA, model_type: 'gemma2' },
      /\/m\/config\.json:model_type: "gemma2" is not supported; expected one of "llama" \(LlamaForCausalLM\), "qwen2" \(Qwen2ForCausalLM\), "mistral" \(MistralForCausalLM\)/,
    ],
    [
      { ...QWEN, architectures: ['Qwen2MoeForCausalLM'] },
      /config\.json:architectures: \["Qwen2MoeForCausalLM"\] is not supported; expected \["Qwen2ForCausalLM"\] for model_type "qwen2"/,
    ],
    [
      { ...LLAMA, rope_scaling: { rope_type: 'yarn', factor: 4 } },
      /config\.json:rope_scaling\.rope_type: "yarn" is not supported; expected "linear" or "llama3" \(or "default"\); dynamic, yarn, longrope… are not supported/,
    ],
    [
      { ...LLAMA, rope_scaling: { type: 'dynamic', factor: 2 } },
      /config\.json:rope_scaling\.type: "dynamic" is not supported/,
    ],
    [
      { ...LLAMA, rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4 } },
      /config\.json:rope_scaling\.original_max_position_embeddings: undefined is not supported; expected a number \(rope_type llama3\)/,
    ],
    [
      { ...LLAMA, rope_scaling: { rope_type: 'linear', factor: 0.5 } },
      /config\.json:rope_scaling\.factor: 0\.5 is invalid; expected a number ≥ 1/,
    ],
    [
      { ...LLAMA, rope_parameters: { rope_type: 'yarn', rope_theta: 1e4, factor: 4 } },
      /config\.json:rope_parameters\.rope_type: "yarn" is not supported/,
    ],
    [
      { ...QWEN, use_sliding_window: true, sliding_window: 4096 },
      /config\.json:use_sliding_window: true is not supported; expected false \(sliding-window attention is not supported\)/,
    ],
    [
      { ...MISTRAL, sliding_window: 128 },
      /config\.json:sliding_window: 128 is not supported; expected null or ≥ the context used \(256\); load with maxSeqLen ≤ 128/,
    ],
    [
      { ...LLAMA, layer_types: ['full_attention', 'sliding_attention'] },
      /config\.json:layer_types: .* is not supported; expected only "full_attention" layers/,
    ],
    [
      { ...LLAMA, hidden_act: 'gelu_pytorch_tanh' },
      /config\.json:hidden_act: "gelu_pytorch_tanh" is not supported; expected "silu" \(SwiGLU\)/,
    ],
    [
      { ...LLAMA, attention_bias: 'yes' },
      /config\.json:attention_bias: "yes" is not supported; expected true or false/,
    ],
    [
      { ...LLAMA, partial_rotary_factor: 0.5 },
      /config\.json:partial_rotary_factor: 0\.5 is not supported; expected 1/,
    ],
    [
      { ...LLAMA, quantization_config: { quant_method: 'awq' } },
      /config\.json:quantization_config: .* is not supported; expected none/,
    ],
    [
      { ...LLAMA, eos_token_id: '</s>' },
      /config\.json:eos_token_id: "<\/s>" is not supported; expected an integer token id, a list of them, or null/,
    ],
    [
      { ...LLAMA, eos_token_id: [2, 100] },
      /config\.json:eos_token_id: \[2,100\] is invalid; expected a list of integer ids in \[0, vocabSize = 100\)/,
    ],
    [{ ...LLAMA, head_dim: 7 }, /config\.json:head_dim: 7 is invalid; expected a positive even integer/],
    [
      { ...LLAMA, hidden_size: 30 },
      /config\.json:hidden_size: 30 is invalid; expected a multiple of numHeads \(4\)/,
    ],
    [[LLAMA], /config\.json: expected a JSON object/],
    [
      { ...LLAMA, hidden_size: undefined },
      /config\.json:hidden_size: undefined is invalid; expected a positive integer/,
    ],
    [
      { ...LLAMA, vocab_size: undefined },
      /config\.json:vocab_size: undefined is invalid; expected a positive integer/,
    ],
  ])('%j is refused', (json, message) => {
    expect(() => describeHfConfig(json, f)).toThrow(message);
  });

  it('Mistral with a window that covers the context loads, also when the context is capped to it', () => {
    expect(describeHfConfig({ ...MISTRAL, sliding_window: null }, f).config.maxSeqLen).toBe(256);
    expect(describeHfConfig({ ...MISTRAL, sliding_window: 256 }, f).family).toBe('mistral');
    expect(
      describeHfConfig({ ...MISTRAL, sliding_window: 128 }, f, { maxSeqLen: 128 }).config.maxSeqLen,
    ).toBe(128);
    // Qwen2's window is ignored while use_sliding_window is false (as transformers does)
    expect(describeHfConfig({ ...QWEN, sliding_window: 16, use_sliding_window: false }, f).family).toBe(
      'qwen2',
    );
  });

  it('family defaults: Llama kv heads = heads, pad -1 read as none, rope_parameters (transformers 5)', () => {
    const { num_key_value_heads: _, ...noKv } = LLAMA;
    const c = describeHfConfig({ ...noKv, pad_token_id: -1 }, f).config;
    expect(c.numKvHeads).toBe(4);
    expect(c.padTokenId).toBeNull();
    expect(c.normEps).toBe(1e-6);
    const v5 = describeHfConfig(
      { ...LLAMA, rope_parameters: { rope_type: 'linear', rope_theta: 5e5, factor: 2 } },
      f,
    ).config;
    expect(v5.ropeTheta).toBe(5e5);
    expect(v5.ropeScaling).toEqual({ type: 'linear', factor: 2 });
  });
});
