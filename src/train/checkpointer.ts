// The file-based Checkpointer of `train`: atomic checkpoint directories under `<outDir>/checkpoints/`, holding the
// trainable variables (adapters, routers, new token rows; or the whole model when it is fully trained), the AdamW
// moments, and the data position, so a run resumes exactly where it stopped.
import type * as tf from '@tensorflow/tfjs';
import type { Transformer } from '../model/transformer.js';
import type { NonFiniteOptions } from '../util/finite.js';
import { latestCheckpoint, loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import type { AdamW } from './optimizer.js';
import type { Checkpointer, TrainPosition } from './trainer.js';

export interface FileCheckpointerOptions extends NonFiniteOptions {
  outDir: string;
  /** Checkpoints kept. Default 3. */
  keepLast?: number;
  /** The frozen base checkpoint the adapters belong to (its path and sha256 are recorded). */
  basePath?: string;
  /** JSON written into every checkpoint's state.json (model, experts, tokenizer, training configs). */
  config?: unknown;
  /** The checkpoint directory `restore` reads (train/resume.ts chooses it). Default: the run's latest. */
  resumeFrom?: string;
}

/** Saves the model's trainable variables (or all, when the base itself trains) with the optimizer and position. */
export function fileCheckpointer(model: Transformer, options: FileCheckpointerOptions): Checkpointer {
  const baseTrains = () => model.embedding.trainable;
  const variables = (): Map<string, tf.Variable> =>
    new Map([...model.namedVariables()].filter(([, v]) => baseTrains() || v.trainable));
  return {
    async save(position: TrainPosition, optimizer: AdamW): Promise<string> {
      return saveCheckpoint({
        outDir: options.outDir,
        step: position.step,
        epoch: position.epoch,
        variables: variables(),
        kind: baseTrains() ? 'model' : 'adapters',
        base: !baseTrains() && options.basePath ? { path: options.basePath } : undefined,
        optimizer,
        data: position,
        config: options.config,
        keepLast: options.keepLast,
      });
    },
    async restore(optimizer: AdamW): Promise<TrainPosition | null> {
      const dir = options.resumeFrom ?? (await latestCheckpoint(options.outDir));
      if (!dir) return null;
      const state = await loadCheckpoint(dir, {
        variables: variables(),
        optimizer,
        allowNonFinite: options.allowNonFinite,
        onWarning: options.onWarning,
      });
      const p = state.data as TrainPosition | null;
      if (
        !p ||
        typeof p.step !== 'number' ||
        typeof p.epoch !== 'number' ||
        typeof p.microInEpoch !== 'number'
      ) {
        throw new Error(`${dir}: state.json has no training position (data.step/epoch/microInEpoch)`);
      }
      return p;
    },
  };
}
