// One forward/backward pass of a batch: the masked next-token loss over trained tokens (plus the routers'
// auxiliary loss, when the experts have one), its gradients for the trainable variables, and the per-token NLL
// for per-step-type reporting. The batch's routing comes from experts/ (`batchRoute`).
import * as tf from '@tensorflow/tfjs';
import { type Route, withRoute } from '../experts/routing.js';
import { balanceLoss } from '../experts/top-k-router.js';
import { maskedMeanNll } from '../model/loss.js';
import type { BlockRunner, Transformer } from '../model/transformer.js';
import type { BatchTensors } from './batch.js';
import { checkpointBlocks } from './checkpoint-blocks.js';
import { namedGradients } from './clip.js';

export interface StepOutput {
  /** Mean NLL over the batch's trained tokens (without the balance loss). */
  loss: tf.Scalar;
  /** Per-token NLL (B·T), for per-step-type figures. */
  nll: tf.Tensor1D;
  /** The routers' auxiliary (load-balance) loss; 0 when they add none. */
  balance: tf.Scalar;
}

/**
 * Loss of one batch. Pure: call inside a tidy (or a gradient function). `balanceWeight` multiplies the
 * auxiliary loss that learned routers pushed onto the route during the forward (experts `auxLossWeight`).
 * `runBlock` runs the blocks (activation checkpointing); absent, they run directly.
 */
export function batchLoss(
  model: Transformer,
  bt: BatchTensors,
  route: Route | undefined,
  balanceWeight: number,
  runBlock?: BlockRunner,
): StepOutput & { total: tf.Scalar } {
  const [B, T] = bt.ids.shape;
  const targets = tf.reshape(bt.targets, [B * T]) as tf.Tensor1D;
  const options = { attnMask: bt.attnMask, ctx: route ? withRoute(route) : undefined, runBlock };
  const nll = model.tokenNll(bt.ids, targets, options, bt.lossRows); // (B·T), the head fused with the loss
  const loss = maskedMeanNll(nll, tf.reshape(bt.lossMask, [B * T]) as tf.Tensor1D);
  const balance = route && route.auxLosses.length > 0 ? balanceLoss(route) : tf.scalar(0);
  const total = balanceWeight > 0 ? (tf.add(loss, tf.mul(balance, balanceWeight)) as tf.Scalar) : loss;
  return { loss, nll, balance, total };
}

/**
 * Gradients of one batch's loss for `vars` (by dotted name). Tidied: returns the gradients and the kept outputs,
 * which the caller disposes. With `activationCheckpointing` each block's activations are recomputed in the
 * backward instead of kept (checkpoint-blocks.ts): the same gradients, less memory, one more forward of the blocks.
 */
export function batchGradients(
  model: Transformer,
  bt: BatchTensors,
  route: Route | undefined,
  vars: ReadonlyMap<string, tf.Variable>,
  balanceWeight: number,
  activationCheckpointing = false,
): StepOutput & { grads: tf.NamedTensorMap } {
  return tf.tidy('trainStep', () => {
    let out: StepOutput | undefined;
    const checkpoints = activationCheckpointing ? checkpointBlocks() : null;
    const { grads } = namedGradients(() => {
      const r = batchLoss(model, bt, route, balanceWeight, checkpoints?.runBlock);
      out = { loss: tf.keep(r.loss), nll: tf.keep(r.nll), balance: tf.keep(r.balance) };
      return r.total;
    }, vars);
    if (checkpoints) for (const [name, v] of vars) if (checkpoints.unreached.has(v)) delete grads[name]; // no gradient, as without checkpointing
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
