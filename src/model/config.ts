// ModelConfig: the shape of a Llama-style decoder (llama2.c's Config struct), presets and the validating resolver.
import { check } from '../util/errors.js';

export interface ModelConfig {
  /** Model width d (llama2.c `dim`). Default 64. */
  dim: number;
  /** SwiGLU hidden width (llama2.c `hidden_dim`). Default 172. */
  hiddenDim: number;
  /** Number of transformer blocks. Default 5. */
  numLayers: number;
  /** Number of query heads; `dim % numHeads === 0`. Default 8. */
  numHeads: number;
  /** Number of key/value heads (grouped-query attention); divides `numHeads`. Default 4. */
  numKvHeads: number;
  /** Vocabulary size, including any added special tokens. Default 512. */
  vocabSize: number;
  /** Longest sequence the model attends over (RoPE table length). Default 512. */
  maxSeqLen: number;
  /** RMSNorm epsilon, added inside the square root as llama2.c does. Default 1e-5. */
  normEps: number;
  /** RoPE base θ. Default 10000. */
  ropeTheta: number;
  /** Whether the output head shares the token embedding matrix. Default true. */
  tiedEmbeddings: boolean;
}

export const DEFAULT_MODEL_CONFIG: Readonly<ModelConfig> = Object.freeze({
  dim: 64,
  hiddenDim: 172,
  numLayers: 5,
  numHeads: 8,
  numKvHeads: 4,
  vocabSize: 512,
  maxSeqLen: 512,
  normEps: 1e-5,
  ropeTheta: 10000,
  tiedEmbeddings: true,
});

/** Named shapes (minGPT's model_type table). */
export const MODEL_PRESETS = {
  /** Karpathy's stories260K (llama2.c), the real pretrained fixture. */
  stories260K: { ...DEFAULT_MODEL_CONFIG },
  /** A tiny model for fast unit tests. */
  'tiny-test': {
    ...DEFAULT_MODEL_CONFIG,
    dim: 16,
    hiddenDim: 40,
    numLayers: 2,
    numHeads: 4,
    numKvHeads: 2,
    vocabSize: 64,
    maxSeqLen: 64,
  },
  /** The benchmark shape: d=256, 4 layers, seq 256 (issue: training throughput). */
  'bench-256': {
    ...DEFAULT_MODEL_CONFIG,
    dim: 256,
    hiddenDim: 688,
    numLayers: 4,
    numHeads: 8,
    numKvHeads: 8,
    vocabSize: 512,
    maxSeqLen: 256,
  },
  /** The stories15M shape (Llama-2 32k tokenizer). */
  stories15M: {
    ...DEFAULT_MODEL_CONFIG,
    dim: 288,
    hiddenDim: 768,
    numLayers: 6,
    numHeads: 6,
    numKvHeads: 6,
    vocabSize: 32000,
    maxSeqLen: 256,
  },
} satisfies Record<string, ModelConfig>;

export type ModelPreset = keyof typeof MODEL_PRESETS;

const isPosInt = (v: unknown): v is number => Number.isInteger(v) && (v as number) > 0;

/** Merges `partial` over the defaults (or a preset) and validates every field. */
export function resolveModelConfig(
  partial: Partial<ModelConfig> = {},
  preset?: ModelPreset,
): Readonly<ModelConfig> {
  if (preset !== undefined)
    check(preset in MODEL_PRESETS, 'preset', preset, `one of ${Object.keys(MODEL_PRESETS).join(', ')}`);
  const base = preset ? MODEL_PRESETS[preset] : DEFAULT_MODEL_CONFIG;
  const known = new Set(Object.keys(DEFAULT_MODEL_CONFIG));
  for (const k of Object.keys(partial))
    check(known.has(k), k, (partial as Record<string, unknown>)[k], `a known key (${[...known].join(', ')})`);
  const c: ModelConfig = { ...base, ...partial };
  for (const k of [
    'dim',
    'hiddenDim',
    'numLayers',
    'numHeads',
    'numKvHeads',
    'vocabSize',
    'maxSeqLen',
  ] as const) {
    check(isPosInt(c[k]), k, c[k], 'a positive integer');
  }
  check(c.dim % c.numHeads === 0, 'dim', c.dim, `a multiple of numHeads (${c.numHeads})`);
  check(c.numHeads % c.numKvHeads === 0, 'numKvHeads', c.numKvHeads, `a divisor of numHeads (${c.numHeads})`);
  check(
    (c.dim / c.numHeads) % 2 === 0,
    'dim',
    c.dim,
    `dim / numHeads even (RoPE rotates pairs), got head size ${c.dim / c.numHeads}`,
  );
  check(
    typeof c.normEps === 'number' && c.normEps > 0 && c.normEps < 1,
    'normEps',
    c.normEps,
    'a number in (0, 1)',
  );
  check(typeof c.ropeTheta === 'number' && c.ropeTheta > 1, 'ropeTheta', c.ropeTheta, 'a number > 1');
  check(typeof c.tiedEmbeddings === 'boolean', 'tiedEmbeddings', c.tiedEmbeddings, 'a boolean');
  return Object.freeze(c);
}

/** Head size (dim / numHeads). */
export const headSize = (c: ModelConfig): number => c.dim / c.numHeads;
