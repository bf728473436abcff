// Learning-rate schedules: linear warm-up, then cosine / linear decay to minLr, or constant. Steps are numbered
// like nanoGPT's `get_lr(it)` (train.py): `it` = optimizer steps already taken, starting at 0.
import type { ScheduleKind } from './config.js';

export interface ScheduleOptions {
  /** Peak learning rate. */
  learningRate: number;
  /** Warm-up steps: it < warmupSteps gives learningRate·(it + 1)/(warmupSteps + 1). */
  warmupSteps: number;
  /** Step where decay ends (nanoGPT `lr_decay_iters`; usually the total number of optimizer steps). */
  totalSteps: number;
  /** Decay shape after warm-up. */
  schedule: ScheduleKind;
  /** minLr = minLrRatio · learningRate. */
  minLrRatio: number;
}

/**
 * Learning rate for optimizer step `it` (0-based):
 * 1. it < warmupSteps: linear warm-up lr·(it + 1)/(warmupSteps + 1), never 0;
 * 2. it ≥ totalSteps (or no decay window left): minLr (`constant`: lr);
 * 3. between: with r = (it − warmupSteps)/(totalSteps − warmupSteps), cosine minLr + ½(1 + cos πr)(lr − minLr),
 *    linear minLr + (1 − r)(lr − minLr), constant lr.
 */
export function learningRateAt(it: number, o: ScheduleOptions): number {
  if (!Number.isInteger(it) || it < 0)
    throw new RangeError(`learningRateAt: step must be an integer ≥ 0, got ${it}`);
  const lr = o.learningRate;
  if (it < o.warmupSteps) return (lr * (it + 1)) / (o.warmupSteps + 1);
  if (o.schedule === 'constant') return lr;
  const minLr = o.minLrRatio * lr;
  const span = o.totalSteps - o.warmupSteps;
  if (span <= 0 || it >= o.totalSteps) return minLr;
  const r = (it - o.warmupSteps) / span; // in [0, 1)
  const coeff = o.schedule === 'cosine' ? 0.5 * (1 + Math.cos(Math.PI * r)) : 1 - r;
  return minLr + coeff * (lr - minLr);
}
