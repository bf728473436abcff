// ModelConfig: the shape of a Llama-style decoder (llama2.c's Config struct, plus what Hugging Face Llama / Qwen2 /
// Mistral configs add: head size, RoPE scaling, projection biases, special token ids), presets and the resolver.
import { check } from '../util/errors.js';

/** The projections of a block, by the names experts target. */
export const LINEAR_MODULES = ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] as const;
export type LinearModule = (typeof LINEAR_MODULES)[number];

/**
 * RoPE frequency scaling (transformers `modeling_rope_utils.py`; rope.ts computes the frequencies):
 * - `linear`: every inverse frequency divided by `factor` (position interpolation);
 * - `llama3`: low frequencies (wavelength above originalMaxPositions / lowFreqFactor) divided by `factor`, high ones
 *   (wavelength below originalMaxPositions / highFreqFactor) kept, the band between blended smoothly (Llama 3.1+).
 */
export type RopeScaling =
  | { readonly type: 'linear'; readonly factor: number }
  | {
      readonly type: 'llama3';
      readonly factor: number;
      readonly lowFreqFactor: number;
      readonly highFreqFactor: number;
      /** The context the model was pretrained on before the extension (8192 for Llama 3.1/3.2). */
      readonly originalMaxPositions: number;
    };

export interface ModelConfig {
  /** Model width d (llama2.c `dim`). Default 64. */
  dim: number;
  /** SwiGLU hidden width (llama2.c `hidden_dim`). Default 172. */
  hiddenDim: number;
  /** Number of transformer blocks. Default 5. */
  numLayers: number;
  /** Number of query heads. Default 8. */
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
  /**
   * Size of each attention head (q/k/v have numHeads·headDim / numKvHeads·headDim outputs; even: RoPE rotates
   * pairs), or null for dim / numHeads. Default null. The resolver stores null whenever the size is dim / numHeads,
   * so a config copied with another dim or head count never keeps a stale head size; read it with `headSize(c)`.
   */
  headDim: number | null;
  /** RoPE frequency scaling, or null for plain RoPE. Default null. */
  ropeScaling: RopeScaling | null;
  /**
   * Projections that add a frozen bias after the matmul (Qwen2: q, k, v; Llama `attention_bias`: q, k, v, o;
   * `mlp_bias`: gate, up, down). Default [] (bias-free, as llama2.c).
   */
  biases: readonly LinearModule[];
  /** Beginning-of-sequence id from the model's config, or null (the tokenizer's applies). Default null. */
  bosTokenId: number | null;
  /**
   * End-of-sequence ids from the model's config (Llama 3.x lists several: [128001, 128008, 128009]); empty when
   * unknown (the tokenizer's applies). Default [].
   */
  eosTokenIds: readonly number[];
  /** Padding id from the model's config, or null. Default null. */
  padTokenId: number | null;
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
  headDim: null,
  ropeScaling: null,
  biases: [],
  bosTokenId: null,
  eosTokenIds: [],
  padTokenId: null,
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
const isFinitePositive = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0;

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
  if (c.headDim == null) {
    check(c.dim % c.numHeads === 0, 'dim', c.dim, `a multiple of numHeads (${c.numHeads}), or headDim given`);
    check(
      (c.dim / c.numHeads) % 2 === 0,
      'dim',
      c.dim,
      `dim / numHeads even (RoPE rotates pairs), got head size ${c.dim / c.numHeads}`,
    );
  } else
    check(
      isPosInt(c.headDim) && c.headDim % 2 === 0,
      'headDim',
      c.headDim,
      'a positive even integer (RoPE rotates pairs), or null for dim / numHeads',
    );
  if (c.headDim === c.dim / c.numHeads) c.headDim = null; // the default, stated once
  check(c.numHeads % c.numKvHeads === 0, 'numKvHeads', c.numKvHeads, `a divisor of numHeads (${c.numHeads})`);
  check(
    typeof c.normEps === 'number' && c.normEps > 0 && c.normEps < 1,
    'normEps',
    c.normEps,
    'a number in (0, 1)',
  );
  check(typeof c.ropeTheta === 'number' && c.ropeTheta > 1, 'ropeTheta', c.ropeTheta, 'a number > 1');
  check(typeof c.tiedEmbeddings === 'boolean', 'tiedEmbeddings', c.tiedEmbeddings, 'a boolean');
  c.ropeScaling = resolveRopeScaling(c.ropeScaling);
  check(
    Array.isArray(c.biases) &&
      c.biases.every((m) => (LINEAR_MODULES as readonly string[]).includes(m)) &&
      new Set(c.biases).size === c.biases.length,
    'biases',
    c.biases,
    `a list of distinct projections among ${LINEAR_MODULES.join(', ')}`,
  );
  c.biases = Object.freeze(LINEAR_MODULES.filter((m) => c.biases.includes(m))); // canonical order
  const isId = (v: unknown) => Number.isInteger(v) && (v as number) >= 0 && (v as number) < c.vocabSize;
  const idRange = `an integer id in [0, vocabSize = ${c.vocabSize}), or null`;
  check(c.bosTokenId === null || isId(c.bosTokenId), 'bosTokenId', c.bosTokenId, idRange);
  check(c.padTokenId === null || isId(c.padTokenId), 'padTokenId', c.padTokenId, idRange);
  check(
    Array.isArray(c.eosTokenIds) && c.eosTokenIds.every(isId),
    'eosTokenIds',
    c.eosTokenIds,
    `a list of integer ids in [0, vocabSize = ${c.vocabSize})`,
  );
  c.eosTokenIds = Object.freeze([...c.eosTokenIds]);
  return Object.freeze(c);
}

/** Validates a RoPE scaling (null passes); returns a frozen copy. */
function resolveRopeScaling(s: RopeScaling | null): RopeScaling | null {
  if (s === null) return null;
  check(
    typeof s === 'object' && (s.type === 'linear' || s.type === 'llama3'),
    'ropeScaling.type',
    (s as { type?: unknown } | undefined)?.type,
    "'linear' or 'llama3' (or ropeScaling null)",
  );
  check(isFinitePositive(s.factor) && s.factor >= 1, 'ropeScaling.factor', s.factor, 'a number ≥ 1');
  if (s.type === 'linear') return Object.freeze({ type: 'linear', factor: s.factor });
  check(isFinitePositive(s.lowFreqFactor), 'ropeScaling.lowFreqFactor', s.lowFreqFactor, 'a number > 0');
  check(
    isFinitePositive(s.highFreqFactor) && s.highFreqFactor > s.lowFreqFactor,
    'ropeScaling.highFreqFactor',
    s.highFreqFactor,
    `a number > lowFreqFactor (${s.lowFreqFactor})`,
  );
  check(
    isPosInt(s.originalMaxPositions),
    'ropeScaling.originalMaxPositions',
    s.originalMaxPositions,
    'a positive integer',
  );
  const { factor, lowFreqFactor, highFreqFactor, originalMaxPositions } = s;
  return Object.freeze({ type: 'llama3', factor, lowFreqFactor, highFreqFactor, originalMaxPositions });
}

/** Head size: ModelConfig.headDim, or dim / numHeads. */
export const headSize = (c: ModelConfig): number => c.headDim ?? c.dim / c.numHeads;
