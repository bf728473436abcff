// Loss figures by step type (method.md: the loss covers analysis, guidance and answer tokens), accumulated on
// the host from the per-token NLL of each batch.

import { STEP_LABELS, type StepLabel } from '../steps.js';
import type { HostBatch } from './batch.js';

/** Mean loss per step type; a type with no trained token is absent. */
export type LossByStage = Partial<Record<StepLabel, number>>;

/** Token-weighted sums of NLL, overall and per step type (when the batches carry step ids). */
export class StageLoss {
  private readonly sum = new Float64Array(STEP_LABELS.length);
  private readonly count = new Float64Array(STEP_LABELS.length);
  private total = 0;
  private totalCount = 0;

  /**
   * Adds a batch: the loss of predicting target i is counted under the step of that target token (the
   * input at i + 1 in the same chain); the last target of a chain (its EOS) under the step of input i.
   */
  add(batch: HostBatch, nll: Float32Array): void {
    const { T, stepIds, docIds, lossMask } = batch;
    for (let i = 0; i < nll.length; i++) {
      if (lossMask[i] === 0) continue;
      this.total += nll[i];
      this.totalCount += 1;
      if (!stepIds) continue;
      const sameChain = (i + 1) % T !== 0 && docIds[i + 1] === docIds[i];
      const s = sameChain ? stepIds[i + 1] : stepIds[i];
      this.sum[s] += nll[i];
      this.count[s] += 1;
    }
  }

  /** Trained tokens seen. */
  get tokens(): number {
    return this.totalCount;
  }

  /** Mean over all trained tokens. */
  mean(): number {
    return this.total / Math.max(1, this.totalCount);
  }

  byStage(): LossByStage {
    const out: LossByStage = {};
    STEP_LABELS.forEach((label, s) => {
      if (this.count[s] > 0) out[label] = this.sum[s] / this.count[s];
    });
    return out;
  }
}
