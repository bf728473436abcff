// The real model shapes of the `scale` suite (random seeded weights; the architectures of the Hugging Face configs in
// ../shared/models/hf): SmolLM2-135M and Qwen2.5-0.5B, both with tied embeddings.
import type { ModelConfig } from '../model/config.js';

export const SCALE_SHAPES = {
  'smollm2-135m': {
    dim: 576,
    hiddenDim: 1536,
    numLayers: 30,
    numHeads: 9,
    numKvHeads: 3,
    vocabSize: 49152,
    ropeTheta: 100000,
    tiedEmbeddings: true,
  },
  'qwen2.5-0.5b': {
    dim: 896,
    hiddenDim: 4864,
    numLayers: 24,
    numHeads: 14,
    numKvHeads: 2,
    vocabSize: 151936,
    ropeTheta: 1000000,
    tiedEmbeddings: true,
    biases: ['q', 'k', 'v'],
  },
} as const satisfies Record<string, Partial<ModelConfig>>;

export type ScaleShape = keyof typeof SCALE_SHAPES;

/** One measured configuration: a shape, a sequence length, an adapter kind, a worker count. */
export interface ScaleCase {
  shape: ScaleShape;
  seq: number;
  experts: 'mote' | 'lora';
  workers: number;
  /** Sequences per step: as many as workers (weak scaling: each worker trains one sequence of `seq` tokens). */
  batch: number;
  rank: number;
  warmup: number;
  steps: number;
  backend: string;
}
