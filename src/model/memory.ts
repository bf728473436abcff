// The memory a model needs for inference and for MoTE training, estimated from its shape alone (no allocation):
// what `mote info` prints, and what `train` checks before its first step (`checkTrainingFits`). Every tensor is
// float32 (4 bytes). An estimate of the tensors the library creates, not a measurement: the wasm heap also
// fragments, and the process holds JS-side copies while loading. What is counted:
//   weights      every base parameter (parameterCount), in one copy: products read the frozen weights where they lie
//   kvCache      inference: keys and values of every layer for seqLen positions
//   activations  inference: one block's tensors (a forward frees each block's when it is done); training: what
//                the backward reads, per layer and token — the block input and the two norm outputs, the mlp
//                input, rotated q and transposed k, v, attention's output, SwiGLU's gate, up and product, the
//                LoRA rank activations — plus attention's probabilities (B·heads·T²); the shape-only ops and the
//                fused SwiGLU save nothing else (backend/kernels/shape-only.ts, swiglu.ts); with activation
//                checkpointing only each block's input, plus one block's while its backward recomputes it
//   workingSet   training: one layer's backward at a time (the gradients of its activations, scores and probs)
//   logits       inference one row per sequence; training the (B·T, V) logits the fused head keeps for the
//                backward when they are small enough (model/fused/head-nll.ts), and two vocabulary chunks
//   adapters     the trainable parameters (LoRA factors, routers; the base for full fine-tuning); their gradients
//                and AdamW's two moments: 3× more
//   heapOverhead wasm training only: the heap grows past the tensors it holds (free blocks between them, the
//                kernels' scratch), by WASM_HEAP_OVERHEAD of the rest (measured: docs/performance.md, "Real size")
import { check } from '../util/errors.js';
import { headSize, LINEAR_MODULES, type LinearModule, type ModelConfig } from './config.js';
import { CHUNK_FLOATS, KEEP_LOGITS_BYTES } from './fused/head-nll.js';

/** wasm32's address space: the whole heap of the wasm backend (tfjs-notes.md). */
export const WASM_HEAP_LIMIT_BYTES = 4 * 1024 ** 3;

const F32 = 4;

/** The wasm heap's size over the tensors' peak in a training step, as a fraction of the estimate (file header). */
export const WASM_HEAP_OVERHEAD = 0.15;

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
  /** Sequences per step (per micro-batch). Default 1. */
  batchSize: number;
  /** Trainable parameters when known (a built run: adapters and routers, or the base); default from the options above. */
  trainableParameters?: number;
  /** Blocks recompute their activations in the backward (TrainConfig.activationCheckpointing). Default false. */
  activationCheckpointing?: boolean;
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
  if (o.trainableParameters !== undefined)
    check(
      Number.isInteger(o.trainableParameters) && o.trainableParameters >= 0,
      'trainableParameters',
      o.trainableParameters,
      'a non-negative integer',
    );
  check(
    o.targets.every((m) => (LINEAR_MODULES as readonly string[]).includes(m)),
    'targets',
    o.targets,
    `projections among ${LINEAR_MODULES.join(', ')}`,
  );
  const { rank: r, seqLen: T, batchSize: B } = o;
  const N = B * T;
  const { dim: d, hiddenDim: h, numLayers: L, numHeads: nh } = c;
  const q = headSize(c) * nh;
  const kv = headSize(c) * c.numKvHeads;
  const shapes = projectionShapes(c);
  const parameters = parameterCount(c);
  const scores = B * nh * T * T; // one layer's attention scores or probabilities

  // inference, per token of one block: x, two norm outputs, residual (4d); q/k/v outputs, rotated q/k, kᵀ
  // (2q + 4kv); attention output and its (B·T, q) copy (2q); SwiGLU: gate, up, product (3h); scores and probs
  const inference = sum({
    weights: parameters * F32,
    kvCache: 2 * L * B * T * kv * F32,
    activations: (N * (4 * d + 4 * q + 4 * kv + 3 * h) + 2 * scores) * F32,
    logits: B * c.vocabSize * F32,
  });

  let adapterParams = 0;
  for (const m of o.targets) {
    const [i, out] = shapes[m];
    adapterParams += L * o.experts * r * (i + out);
  }
  const trainable = o.trainableParameters ?? adapterParams;
  // training, per layer and token: see the file header
  const savedPerToken = 4 * d + 2 * q + 3 * kv + 3 * h + o.targets.length * o.expertsPerToken * r;
  const layerSaved = N * savedPerToken + scores;
  const chunk = Math.max(1024, 8 * Math.floor(CHUNK_FLOATS / N / 8));
  const keptLogits = N * c.vocabSize * F32 <= KEEP_LOGITS_BYTES ? N * c.vocabSize : 0;
  const training = sum({
    weights: parameters * F32,
    adapters: trainable * F32,
    adapterGradientsAndMoments: 3 * trainable * F32,
    activations: (o.activationCheckpointing ? L * N * d + layerSaved : L * layerSaved) * F32,
    workingSet: (layerSaved + 2 * scores) * F32,
    logits: (keptLogits + 2 * N * Math.min(chunk, c.vocabSize)) * F32,
  });
  const wasmTraining = sum({
    ...training.parts,
    heapOverhead: Math.round(WASM_HEAP_OVERHEAD * training.total),
  });
  const wasm = { inference, training: wasmTraining, limitBytes: WASM_HEAP_LIMIT_BYTES };
  const native = { inference, training, limitBytes: null };
  return { parameters, options: Object.freeze(o), backends: { wasm, cpu: native, tensorflow: native } };
}

/** A training configuration the estimate says cannot fit, refused before its first step allocates anything. */
export class MemoryRefusedError extends Error {
  constructor(
    message: string,
    readonly estimate: MemoryParts,
    readonly limitBytes: number,
  ) {
    super(message);
    this.name = 'MemoryRefusedError';
  }
}

const gib = (bytes: number) => `${(bytes / 1024 ** 3).toFixed(2)} GiB`;

/**
 * Throws MemoryRefusedError when training a model of shape `c` with `options` needs more than `limitBytes`
 * (the wasm heap, or the machine's memory): the message gives the estimate by part and what to lower, largest
 * first. Returns the estimate otherwise.
 */
export function checkTrainingFits(
  c: ModelConfig,
  options: Partial<MemoryOptions>,
  limitBytes: number,
  where: string,
  backend: 'wasm' | 'cpu' | 'tensorflow' = 'wasm',
): MemoryParts {
  const est = estimateMemory(c, options).backends[backend].training;
  if (est.total <= limitBytes) return est;
  const o = { ...DEFAULT_MEMORY_OPTIONS, ...options };
  const p = est.parts;
  const perSequence = p.activations + p.workingSet + p.logits;
  // the heap overhead scales with the rest; it is left out of the comparison
  const advice = [
    [
      perSequence,
      `seqLen (${o.seqLen}) or microBatchSize (${o.batchSize}): they scale the activations and logits${o.activationCheckpointing ? '' : ' (or set activationCheckpointing, which keeps one block of activations at a time)'}`,
    ],
    [p.adapters + p.adapterGradientsAndMoments, `the trainable parameters (rank ${o.rank}, targets)`],
    [p.weights, `the model (its weights alone take ${gib(p.weights)})`],
  ] as const;
  const lower = [...advice].sort((a, b) => b[0] - a[0]).map(([, text]) => text);
  const parts = Object.entries(p)
    .map(([k, v]) => `${k} ${gib(v)}`)
    .join(', ');
  throw new MemoryRefusedError(
    `${where}: training needs about ${gib(est.total)} (${parts}) at seqLen ${o.seqLen} × microBatchSize ${o.batchSize}, more than the ${gib(limitBytes)} available; lower ${lower.join('; or ')}`,
    est,
    limitBytes,
  );
}
