// A full MoTE training step, twice, on cpu and on webgpu: a batch of two chains (question → analysis → guidance →
// answer, step-routed, adapter dropout on, step skipping masks), the masked next-token loss, the gradients of every
// adapter (localGradients: the trainer's in-process path, clipping included) and an AdamW update. The losses and
// the updated adapters must agree.
import * as tf from '@tensorflow/tfjs';
import { attachExperts, getExperts } from '../../../../src/experts/attach.js';
import { Transformer } from '../../../../src/model/transformer.js';
import { batches, type HostBatch } from '../../../../src/train/batch.js';
import type { TrainExample } from '../../../../src/train/example.js';
import { localGradients } from '../../../../src/train/gradients.js';
import { AdamW } from '../../../../src/train/optimizer.js';
import { onCpuAndWebgpu, type Results } from './compare.js';
import { wgslCalls } from './mix.js';
import { MODEL_CONFIG } from './model.js';
import type { TrainReport } from './types.js';

/** An example of `lengths` tokens per step (question, analysis, guidance, answer); loss on every step token. */
function chain(id: string, lengths: number[], seed: number): TrainExample {
  const stepIds = Int32Array.from(lengths.flatMap((n, step) => Array(n).fill(step)));
  const n = stepIds.length;
  const ids = Int32Array.from({ length: n }, (_, i) => (i === 0 ? 1 : (i * 37 + seed * 11) % 95) + 1);
  const targets = Int32Array.from({ length: n }, (_, i) => (i + 1 < n ? ids[i + 1] : 2));
  const lossMask = Float32Array.from(stepIds, (s) => (s > 0 ? 1 : 0));
  return { id, ids, targets, lossMask, stepIds };
}

const EXAMPLES = [chain('a', [3, 4, 3, 4], 1), chain('b', [4, 2, 5, 3], 2), chain('c', [2, 5, 3, 2], 3)];

export const trainLosses: Record<string, number[]> = {};

async function trainValues(): Promise<Results> {
  const model = Transformer.init(MODEL_CONFIG, 'webgpu-train', { trainable: false });
  attachExperts(model, { kind: 'mote', rank: 3, initLoraWeights: false, dropout: 0.1, seed: 7 });
  const vars = new Map([...model.namedVariables()].filter(([, v]) => v.trainable));
  const optimizer = new AdamW(vars, { weightDecay: 0.01 });
  const path = localGradients(model, {
    vars,
    experts: getExperts(model)!.config,
    auxWeight: 0,
    clipNorm: 1,
    activationCheckpointing: false,
  });
  const losses: number[] = [];
  const norms: number[] = [];
  try {
    const it = batches(EXAMPLES, { batchSize: 2, seqLen: 16, seed: 3, trim: true, stepSkipProb: 0.5 });
    const group: HostBatch[] = [it.next().value as HostBatch];
    for (let step = 1; step <= 2; step++) {
      let loss = 0;
      const record = (batch: HostBatch, nll: Float32Array) => {
        let sum = 0;
        let count = 0;
        nll.forEach((v, i) => {
          sum += v * batch.lossMask[i];
          count += batch.lossMask[i];
        });
        loss = sum / count;
      };
      const { grads, gradNorm, gradScale } = await path.compute(step, group, (m) => `3:${step}:${m}`, record);
      optimizer.applyGradients(grads, 1e-2, gradScale);
      tf.dispose(Object.values(grads));
      losses.push(loss);
      norms.push(gradNorm);
    }
    trainLosses[tf.getBackend()] = losses;
    const out: Results = { loss: losses, gradNorm: norms };
    for (const [name, v] of vars) out[name] = await v.data();
    return out;
  } finally {
    optimizer.dispose();
    model.dispose();
  }
}

export async function trainCheck(): Promise<TrainReport> {
  const before = wgslCalls.count;
  const r = await onCpuAndWebgpu(trainValues);
  return {
    comparisons: r.comparisons,
    leaked: r.leaked,
    ms: r.ms,
    losses: { ...trainLosses },
    wgslRan: wgslCalls.count > before,
  };
}
