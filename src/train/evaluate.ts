// Held-out loss (nanoGPT `estimate_loss`): the masked next-token loss over every batch of a dataset, token-weighted,
// overall and per step type (when the examples carry step ids). No gradients, no step skipping; question tokens
// use the shared expert only.
import * as tf from '@tensorflow/tfjs';
import { getExperts } from '../experts/attach.js';
import { batchRoute } from '../experts/kinds.js';
import type { Transformer } from '../model/transformer.js';
import { type BatchOptions, batches, toTensors } from './batch.js';
import type { TrainExample } from './example.js';
import { type LossByStage, StageLoss } from './stats.js';
import { batchLoss } from './step.js';

export interface EvalResult {
  /** Mean NLL over all trained tokens. */
  loss: number;
  byStage: LossByStage;
  /** Trained tokens evaluated. */
  tokens: number;
}

/** Evaluates `data` in fixed order (no shuffle, no step skipping). */
export async function evaluate(
  model: Transformer,
  data: readonly TrainExample[],
  options: Pick<BatchOptions, 'batchSize' | 'seqLen' | 'mode' | 'padId'>,
): Promise<EvalResult> {
  if (data.length === 0) throw new Error('evaluate: the dataset is empty');
  const stats = new StageLoss();
  const experts = getExperts(model)?.config ?? null;
  for (const batch of batches(data, { ...options, shuffle: false, stepSkipProb: 0, trim: true })) {
    const bt = toTensors(batch);
    const route = batchRoute(experts, batch, { seed: 'eval', training: false });
    const nll = tf.tidy('evaluate', () => batchLoss(model, bt, route, 0).nll);
    stats.add(batch, (await nll.data()) as Float32Array);
    tf.dispose([nll, ...Object.values(bt)]);
    route?.dispose();
  }
  return { loss: stats.mean(), byStage: stats.byStage(), tokens: stats.tokens };
}
