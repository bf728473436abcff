// What `workers: 'auto'` (TrainConfig.workers) means for a run: the cores, where data-parallel training pays.
// It does not pay for small models and batches: each worker first imports tfjs and builds its replica (seconds, and
// the first step warms its kernels up), and a split step costs more CPU in total than a whole one (two half-size
// batches) plus a fixed exchange (values out, gradients back). The per-step work is estimated as parameters ×
// tokens per optimizer step (the forward and backward matmuls grow with both); AUTO_MIN_STEP_WORK is set where 2
// workers measured about 1.5× one per step, which repays the start-up within a few steps (the measurements:
// docs/parallel.md, "The `auto` rule").
import { availableParallelism } from 'node:os';

/**
 * Parameters × tokens per optimizer step below which `'auto'` trains in-process (file header). The demo
 * (stories260K with MoTE rank 16: 630K parameters × batch 8 of ~300-token chains = 1.5e9) is above it; the unit
 * tests' stories260K runs (batch 4 of ≤ 64-token chains: ≤ 1.6e8) are below.
 */
export const AUTO_MIN_STEP_WORK = 1e9;

/** What `resolveWorkers` weighs. */
export interface Workload {
  /** The active tfjs backend: workers run wasm or cpu only. */
  backend: string;
  /** LoRA dropout of the attached experts (0 when none): replicas cannot reproduce its masks. */
  dropout: number;
  /** Every parameter of the model, frozen ones included (they take part in the forward and backward). */
  parameters: number;
  /** Mean tokens of an optimizer step. */
  tokensPerStep: number;
  /** Rows of an optimizer step (batchSize): more workers than rows would idle. */
  rows: number;
  /** Micro-batches of an optimizer step (batchSize / microBatchSize). */
  microBatches: number;
  /** Whether micro-batches may be split between workers (experts `shardable`: parallel/shard.ts). */
  splittable: boolean;
}

export interface WorkersChoice {
  workers: number;
  /** Why, for the run's start line: `set`, or `auto: …`. */
  reason: string;
}

/**
 * The worker count of a run: `requested` when it is a number; for `'auto'`, as many cores as a step can use
 * (min(cores, rows), or min(cores, microBatches) when micro-batches are not split) when that is at least 2, the
 * backend is wasm or cpu, there is no LoRA dropout and parameters × tokensPerStep ≥ AUTO_MIN_STEP_WORK; else 1.
 */
export function resolveWorkers(
  requested: number | 'auto',
  w: Workload,
  cores: number = availableParallelism(),
): WorkersChoice {
  if (requested !== 'auto') return { workers: requested, reason: 'set' };
  const work = w.parameters * w.tokensPerStep;
  const inProcess = (why: string) => ({ workers: 1, reason: `auto: ${why}` });
  if (cores < 2) return inProcess('1 core');
  if (w.backend !== 'wasm' && w.backend !== 'cpu')
    return inProcess(`the ${w.backend} backend (workers run wasm or cpu)`);
  if (w.dropout > 0) return inProcess(`LoRA dropout ${w.dropout} (workers cannot reproduce its masks)`);
  const workers = Math.min(cores, w.splittable ? w.rows : w.microBatches);
  if (workers < 2)
    return inProcess(
      w.splittable
        ? 'one row per step'
        : "one micro-batch per step, and these experts' micro-batches are not split",
    );
  if (work < AUTO_MIN_STEP_WORK)
    return inProcess(`${sci(work)} parameter·tokens per step < ${sci(AUTO_MIN_STEP_WORK)}`);
  return {
    workers,
    reason: `auto: ${workers} of ${cores} cores, ${sci(work)} parameter·tokens per step ≥ ${sci(AUTO_MIN_STEP_WORK)}`,
  };
}

function sci(x: number): string {
  return x.toExponential(1).replace('e+', 'e');
}
