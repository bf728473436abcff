// The training loop of the Node entry: trainer.ts with worker threads (`workers` in TrainConfig: parallel/open.ts).
import type { Transformer } from '../model/transformer.js';
import type { TrainConfig } from './config.js';
import type { TrainData } from './example.js';
import { openWorkerGradients } from './parallel/open.js';
import { type TrainOptions, type TrainResult, train as trainLoop } from './trainer.js';

/**
 * Trains the attached experts of `model` (or the whole model) on `data`: trainer.ts `train`, whose gradients are
 * computed by a pool of worker threads when `config.workers` asks for more than one (or 'auto' finds it pays).
 */
export function train(
  model: Transformer,
  data: TrainData,
  config: Partial<TrainConfig> = {},
  options: TrainOptions = {},
): Promise<TrainResult> {
  return trainLoop(model, data, config, { gradients: openWorkerGradients, ...options });
}
