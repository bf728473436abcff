// One forward/backward pass of a batch: the masked next-token loss over chain tokens (plus the moe-topk balance
// loss), its gradients for the trainable variables, and the per-token NLL for per-step-type reporting.
import * as tf from '@tensorflow/tfjs';
import type { BatchTensors, HostBatch } from '../aligncot/batch.js';
import { getExperts } from '../experts/attach.js';
import type { ExpertConfig } from '../experts/config.js';
import { buildStepRoute, learnedRoute, type Route, withRoute } from '../experts/routing.js';
import { balanceLoss } from '../experts/top-k-router.js';
import { maskedMeanNll, tokenNll } from '../model/loss.js';
import type { Transformer } from '../model/transformer.js';
import { namedGradients } from './clip.js';

/**
 * The routing of a batch for the experts attached to `model` (none: undefined). MoTE routes every token by its
 * step, question tokens to a step expert drawn per chain from `seed`; moe-topk learns its routing; a single
 * LoRA needs none.
 */
export function routeForBatch(
  model: Transformer,
  batch: HostBatch,
  seed: string,
  training: boolean,
): Route | undefined {
  return routeForExperts(getExperts(model)?.config, batch, seed, training);
}

/** `routeForBatch` from the expert config alone (a worker pool's main thread has the config, not the model). */
export function routeForExperts(
  c: Readonly<ExpertConfig> | undefined,
  batch: HostBatch,
  seed: string,
  training: boolean,
): Route | undefined {
  if (!c) return undefined;
  if (c.kind === 'moe-topk') return learnedRoute({ training });
  if (c.kind === 'lora') return undefined;
  return buildStepRoute(batch.stepIds, [batch.B, batch.T], {
    experts: c.stepExperts,
    training,
    seed,
    docIds: batch.docIds,
    question: training ? 'random' : undefined,
  });
}

export interface StepOutput {
  /** Mean NLL over the batch's trained tokens (without the balance loss). */
  loss: tf.Scalar;
  /** Per-token NLL (B·T), for per-step-type figures. */
  nll: tf.Tensor1D;
  /** moe-topk's load-balance loss (0 otherwise). */
  balance: tf.Scalar;
}

/**
 * Loss of one batch. Pure: call inside a tidy (or a gradient function). `balanceWeight` multiplies the
 * balance loss that learned routers pushed onto the route during the forward.
 */
export function batchLoss(
  model: Transformer,
  bt: BatchTensors,
  route: Route | undefined,
  balanceWeight: number,
): StepOutput & { total: tf.Scalar } {
  const [B, T] = bt.ids.shape;
  const logits = model.forward(bt.ids, { attnMask: bt.attnMask, ctx: route ? withRoute(route) : undefined }); // (B·T, V)
  const nll = tokenNll(logits, tf.reshape(bt.targets, [B * T]) as tf.Tensor1D); // (B·T)
  const loss = maskedMeanNll(nll, tf.reshape(bt.lossMask, [B * T]) as tf.Tensor1D);
  const balance = route && route.auxLosses.length > 0 ? balanceLoss(route) : tf.scalar(0);
  const total = balanceWeight > 0 ? (tf.add(loss, tf.mul(balance, balanceWeight)) as tf.Scalar) : loss;
  return { loss, nll, balance, total };
}

/**
 * Gradients of one batch's loss for `vars` (by dotted name). Tidied: returns the gradients and the kept outputs,
 * which the caller disposes.
 */
export function batchGradients(
  model: Transformer,
  bt: BatchTensors,
  route: Route | undefined,
  vars: ReadonlyMap<string, tf.Variable>,
  balanceWeight: number,
): StepOutput & { grads: tf.NamedTensorMap } {
  return tf.tidy('trainStep', () => {
    let out: StepOutput | undefined;
    const { grads } = namedGradients(() => {
      const r = batchLoss(model, bt, route, balanceWeight);
      out = { loss: tf.keep(r.loss), nll: tf.keep(r.nll), balance: tf.keep(r.balance) };
      return r.total;
    }, vars);
    // kept tensors escape every scope; hand them to this tidy's return value instead
    const result = {
      grads,
      loss: tf.clone(out!.loss),
      nll: tf.clone(out!.nll),
      balance: tf.clone(out!.balance),
    };
    tf.dispose([out!.loss, out!.nll, out!.balance]);
    return result;
  });
}
