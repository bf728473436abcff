// The memory a model needs for inference and for MoTE training, estimated from its shape alone (no allocation):
// what `mote info` prints, and the figure a run can check before allocating. Every tensor is float32 (4 bytes).
// An estimate of the tensors the library creates, not a measurement: the wasm heap also fragments, and the
// process holds JS-side copies while loading. What is counted:
//   weights      every base parameter (parameterCount)
//   kvCache      inference: keys and values of every layer for seqLen positions
//   activations  the tensors a forward creates (all layers at once: one tidy spans the forward) — for training
//                those the backward reads: block inputs and norms, q/k/v and rotated heads, attention scores and
//                probabilities (B·heads·T²), the SwiGLU intermediates, the LoRA rank activations
//   logits       over the vocabulary: inference one row per sequence; training the (B·T, V) logits, the softmax of
//                the loss backward and their gradient, plus a tied head's transposed embedding and its gradient
//   adapters     LoRA factors of every expert on every adapted projection; gradients + AdamW's two moments: 3× more
//   transposed   wasm only: a cached (out, in) copy of each adapted projection's frozen weight for the backward
//                (experts/merged-weights.ts TransposedWeight); other backends transpose by flag
import { check } from '../util/errors.js';
import { headSize, LINEAR_MODULES, type LinearModule, type ModelConfig } from './config.js';

/** wasm32's address space: the whole heap of the wasm backend (tfjs-notes.md). */
export const WASM_HEAP_LIMIT_BYTES = 4 * 1024 ** 3;

const F32 = 4;

/** (in, out) of each projection of a model of shape `c`. */
function projectionShapes(c: ModelConfig): Record<LinearModule, [number, number]> {
  const q = headSize(c) * c.numHeads;
  const kv = headSize(c) * c.numKvHeads;
  const { dim: d, hiddenDim: h } = c;
  return { q: [d, q], k: [d, kv], v: [d, kv], o: [q, d], gate: [d, h], up: [d, h], down: [h, d] };
}

/** Base parameters of a model of shape `c`: embedding, per layer two norms, seven projections and their biases, final norm, untied head. */
export function parameterCount(c: ModelConfig): number {
  const shapes = projectionShapes(c);
  let layer = 2 * c.dim;
  for (const m of LINEAR_MODULES) {
    const [i, o] = shapes[m];
    layer += i * o + (c.biases.includes(m) ? o : 0);
  }
  const head = c.tiedEmbeddings ? 0 : c.vocabSize * c.dim;
  return c.vocabSize * c.dim + c.numLayers * layer + c.dim + head;
}

export interface MemoryOptions {
  /** LoRA rank of every expert. Default 16. */
  rank: number;
  /** LoRA experts on each adapted projection (step experts + shared). Default 4: analysis, guidance, answer, shared. */
  experts: number;
  /** Experts applied to each token (its step expert + shared). Default 2. */
  expertsPerToken: number;
  /** Adapted projections. Default all seven. */
  targets: readonly LinearModule[];
  /** Tokens per sequence. Default 512. */
  seqLen: number;
  /** Sequences per step. Default 1. */
  batchSize: number;
}

export const DEFAULT_MEMORY_OPTIONS: Readonly<MemoryOptions> = Object.freeze({
  rank: 16,
  experts: 4,
  expertsPerToken: 2,
  targets: LINEAR_MODULES,
  seqLen: 512,
  batchSize: 1,
});

/** Bytes by part (see the file header), and their sum. */
export interface MemoryParts {
  total: number;
  parts: Record<string, number>;
}

export interface BackendMemory {
  inference: MemoryParts;
  training: MemoryParts;
  /** The backend's own ceiling (wasm: its 4 GiB heap), or null: bounded by the process / machine memory. */
  limitBytes: number | null;
}

export interface MemoryEstimate {
  parameters: number;
  options: Readonly<MemoryOptions>;
  backends: { wasm: BackendMemory; cpu: BackendMemory; tensorflow: BackendMemory };
}

const sum = (parts: Record<string, number>): MemoryParts => ({
  total: Object.values(parts).reduce((a, b) => a + b, 0),
  parts,
});

/** Inference and MoTE-training memory of a model of shape `c` on each backend (bytes; see the file header). */
export function estimateMemory(c: ModelConfig, options: Partial<MemoryOptions> = {}): MemoryEstimate {
  const o: MemoryOptions = { ...DEFAULT_MEMORY_OPTIONS, ...options };
  for (const k of ['rank', 'experts', 'expertsPerToken', 'seqLen', 'batchSize'] as const)
    check(Number.isInteger(o[k]) && o[k] > 0, k, o[k], 'a positive integer');
  check(
    o.targets.every((m) => (LINEAR_MODULES as readonly string[]).includes(m)),
    'targets',
    o.targets,
    `projections among ${LINEAR_MODULES.join(', ')}`,
  );
  const { rank: r, seqLen: T, batchSize: B } = o;
  const N = B * T;
  const q = headSize(c) * c.numHeads;
  const kv = headSize(c) * c.numKvHeads;
  const shapes = projectionShapes(c);
  const parameters = parameterCount(c);
  const weights = parameters * F32;
  const tiedTable = c.tiedEmbeddings ? c.vocabSize * c.dim * F32 : 0; // tf.transpose of the table per forward

  // per token and layer: x, two norm outputs, residual (4d); q/k/v outputs, rotated q/k, kᵀ (2q + 4kv); attention
  // output and its (B·T, q) copy (2q); SwiGLU: gate, sigmoid, silu, up, product (5h); LoRA x·A of the experts
  // a token uses on each adapted projection
  const perToken = 4 * c.dim + 4 * q + 4 * kv + 5 * c.hiddenDim;
  const scores = 2 * B * c.numHeads * T * T; // scores and probabilities
  const forward = c.numLayers * (N * perToken + scores) * F32;
  const lora = c.numLayers * N * o.targets.length * o.expertsPerToken * r * F32;

  const inference = sum({
    weights,
    kvCache: 2 * c.numLayers * B * T * kv * F32,
    activations: forward,
    logits: B * c.vocabSize * F32 + tiedTable,
  });

  let adapterParams = 0;
  let transposed = 0;
  for (const m of o.targets) {
    const [i, out] = shapes[m];
    adapterParams += c.numLayers * o.experts * r * (i + out);
    transposed += c.numLayers * i * out * F32;
  }
  const training = (wasm: boolean) =>
    sum({
      weights,
      ...(wasm ? { transposed } : {}),
      adapters: adapterParams * F32,
      adapterGradientsAndMoments: 3 * adapterParams * F32,
      activations: forward + lora,
      logits: 3 * N * c.vocabSize * F32 + 2 * tiedTable,
    });
  const wasm = { inference, training: training(true), limitBytes: WASM_HEAP_LIMIT_BYTES };
  const native = { inference, training: training(false), limitBytes: null };
  return { parameters, options: Object.freeze(o), backends: { wasm, cpu: native, tensorflow: native } };
}
