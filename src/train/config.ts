// TrainConfig: optimiser, schedule, batching, evaluation and checkpoint settings of a run, with documented
// defaults and a validating resolver (peft `__post_init__` style). Paper values from method.md §2.
import { check } from '../util/errors.js';

/** Learning-rate schedule after warm-up (see schedule.ts). */
export type ScheduleKind = 'cosine' | 'constant' | 'linear';
export const SCHEDULE_KINDS: readonly ScheduleKind[] = ['cosine', 'constant', 'linear'];

export interface TrainConfig {
  /** Passes over the training data; an integer ≥ 1. Default 3 [paper]. */
  epochs: number;
  /** Peak learning rate (reached after warm-up), per optimizer step; a number > 0. Default 2e-5 [paper]. */
  learningRate: number;
  /** Sequences per optimizer step (the effective batch); an integer ≥ 1. Default 16 [paper]. */
  batchSize: number;
  /**
   * Sequences per forward/backward pass; divides `batchSize`, and `batchSize / microBatchSize` gradients
   * are accumulated (averaged) per optimizer step. Default: equal to `batchSize` (no accumulation).
   */
  microBatchSize: number;
  /** AdamW decoupled weight decay λ (p ← p − lr·λ·p) on the decay group; ≥ 0. Default 0.01 (PyTorch AdamW). */
  weightDecay: number;
  /** AdamW (β1, β2), each in [0, 1). Default [0.9, 0.999] (PyTorch AdamW). */
  betas: [number, number];
  /** AdamW ε added to √v̂ in the denominator; > 0. Default 1e-8. */
  eps: number;
  /** Optimizer steps of linear warm-up from lr/warmupSteps to the peak; an integer ≥ 0. Default 0 (none). */
  warmupSteps: number;
  /** Learning-rate decay after warm-up. Default `'cosine'`. */
  schedule: ScheduleKind;
  /** Final learning rate as a fraction of the peak (cosine and linear decay end there); in [0, 1]. Default 0.1 (nanoGPT). */
  minLrRatio: number;
  /** Clip the global L2 norm of the gradients to this value before each update; 0 disables. ≥ 0. Default 1.0. */
  clipNorm: number;
  /** Evaluate the held-out loss every this many optimizer steps; 0 = only at the end. Default 100 steps. */
  evalEvery: number;
  /** Save a checkpoint every this many optimizer steps; 0 = only at the end. Default 500 steps. */
  saveEvery: number;
  /** Checkpoints kept on disk (older ones are deleted after a newer one is complete); an integer ≥ 1. Default 3. */
  keepLast: number;
  /** Probability, per training sequence, of masking earlier steps out of later steps' attention; in [0, 1]. Default 0 (off). */
  stepSkipProb: number;
  /** Seed of every random choice of the run (data order, step skipping, question-token expert). Default 0. */
  seed: number | string;
  /**
   * Worker threads that compute each step's gradients in parallel (data parallelism, src/train/parallel/): an
   * integer ≥ 1 (1 = in-process), or `'auto'`. Micro-batches go to workers in turn; when a step has fewer
   * micro-batches than workers each is split by rows (never for moe-topk), so the default microBatchSize =
   * batchSize uses them too. Results equal the in-process run's to float rounding, not bit for bit: set a number
   * for bit-identical reruns on machines with another core count. `'auto'` resolves when `train` starts
   * (parallel/auto.ts) to as many cores (`os.availableParallelism()`) as a step can use where that pays: wasm or
   * cpu backend, no LoRA dropout, and per-step work, parameters × tokens per optimizer step, of at least 1e9
   * (AUTO_MIN_STEP_WORK: below it the workers' start-up and exchange cost more than they save); else 1.
   * Default `'auto'`.
   */
  workers: number | 'auto';
  /**
   * Recompute each block's activations in the backward instead of keeping them (activation checkpointing,
   * checkpoint-blocks.ts): a step keeps every block's input and one block's activations at a time, for one more
   * forward of the blocks. The gradients are the same. For sequences or models whose activations do not fit
   * (the memory estimate says which); not with learned top-k gates (moe-topk). Default false.
   */
  activationCheckpointing: boolean;
}

export const DEFAULT_TRAIN_CONFIG: Readonly<TrainConfig> = Object.freeze({
  epochs: 3,
  learningRate: 2e-5,
  batchSize: 16,
  microBatchSize: 16,
  weightDecay: 0.01,
  betas: Object.freeze([0.9, 0.999]) as [number, number],
  eps: 1e-8,
  warmupSteps: 0,
  schedule: 'cosine',
  minLrRatio: 0.1,
  clipNorm: 1.0,
  evalEvery: 100,
  saveEvery: 500,
  keepLast: 3,
  stepSkipProb: 0,
  seed: 0,
  workers: 'auto',
  activationCheckpointing: false,
} satisfies TrainConfig);

const KEYS = Object.keys(DEFAULT_TRAIN_CONFIG) as (keyof TrainConfig)[];
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isInt = (v: unknown, min: number): v is number => Number.isInteger(v) && (v as number) >= min;

/**
 * Merges `partial` over the defaults and validates every field; throws ConfigError naming the key, the value
 * received and what is allowed. Unknown keys and wrong types are rejected. `microBatchSize` defaults to
 * `batchSize`. Returns a frozen config.
 */
export function resolveTrainConfig(partial: Partial<TrainConfig> = {}): Readonly<TrainConfig> {
  check(
    partial !== null && typeof partial === 'object' && !Array.isArray(partial),
    'trainConfig',
    partial,
    'an object',
  );
  const given = partial as Record<string, unknown>;
  for (const k of Object.keys(given))
    check((KEYS as string[]).includes(k), k, given[k], `a known key (${KEYS.join(', ')})`);
  const defined = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined));
  const c = { ...DEFAULT_TRAIN_CONFIG, ...defined } as TrainConfig;
  if (given.microBatchSize === undefined) c.microBatchSize = c.batchSize;

  check(isInt(c.epochs, 1), 'epochs', c.epochs, 'an integer ≥ 1');
  check(isNum(c.learningRate) && c.learningRate > 0, 'learningRate', c.learningRate, 'a number > 0');
  check(isInt(c.batchSize, 1), 'batchSize', c.batchSize, 'an integer ≥ 1');
  check(
    isInt(c.microBatchSize, 1) && c.batchSize % c.microBatchSize === 0,
    'microBatchSize',
    c.microBatchSize,
    `an integer ≥ 1 that divides batchSize (${c.batchSize})`,
  );
  check(isNum(c.weightDecay) && c.weightDecay >= 0, 'weightDecay', c.weightDecay, 'a number ≥ 0');
  check(
    Array.isArray(c.betas) && c.betas.length === 2 && c.betas.every((b) => isNum(b) && b >= 0 && b < 1),
    'betas',
    c.betas,
    'two numbers [β1, β2], each in [0, 1)',
  );
  check(isNum(c.eps) && c.eps > 0, 'eps', c.eps, 'a number > 0');
  check(isInt(c.warmupSteps, 0), 'warmupSteps', c.warmupSteps, 'an integer ≥ 0');
  check(SCHEDULE_KINDS.includes(c.schedule), 'schedule', c.schedule, `one of ${SCHEDULE_KINDS.join(', ')}`);
  check(
    isNum(c.minLrRatio) && c.minLrRatio >= 0 && c.minLrRatio <= 1,
    'minLrRatio',
    c.minLrRatio,
    'a number in [0, 1]',
  );
  check(isNum(c.clipNorm) && c.clipNorm >= 0, 'clipNorm', c.clipNorm, 'a number ≥ 0 (0 disables clipping)');
  check(isInt(c.evalEvery, 0), 'evalEvery', c.evalEvery, 'an integer ≥ 0 (0 = only at the end)');
  check(isInt(c.saveEvery, 0), 'saveEvery', c.saveEvery, 'an integer ≥ 0 (0 = only at the end)');
  check(isInt(c.keepLast, 1), 'keepLast', c.keepLast, 'an integer ≥ 1');
  check(
    isNum(c.stepSkipProb) && c.stepSkipProb >= 0 && c.stepSkipProb <= 1,
    'stepSkipProb',
    c.stepSkipProb,
    'a number in [0, 1]',
  );
  check(
    isNum(c.seed) || (typeof c.seed === 'string' && c.seed.length > 0),
    'seed',
    c.seed,
    'a number or a non-empty string',
  );
  check(c.workers === 'auto' || isInt(c.workers, 1), 'workers', c.workers, "an integer ≥ 1, or 'auto'");
  check(
    typeof c.activationCheckpointing === 'boolean',
    'activationCheckpointing',
    c.activationCheckpointing,
    'true or false',
  );
  return Object.freeze({ ...c, betas: Object.freeze([...c.betas]) as [number, number] });
}

/** Micro-batches whose gradients are accumulated into one optimizer step. */
export function accumulationSteps(c: Readonly<TrainConfig>): number {
  return c.batchSize / c.microBatchSize;
}
