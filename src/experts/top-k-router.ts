// The learned gate of the token-routed MoE baseline (paper Table 4; MixLoRA-style): per layer a linear gate,
// softmax, the top-k experts with their probabilities renormalised, and the Switch Transformer load-balance
// loss (Fedus et al. 2021, eq. 4) collected on the Route for the trainer.
// TopK has no gradient in tfjs, so the selection is a custom op whose gradient is zero (its kernel:
// src/backend/kernels/top-k-mask.ts): gradients reach the gate only through the kept softmax values.
import * as tf from '@tensorflow/tfjs';
import { runKernel } from '../backend/kernels/run.js';
import { TOP_K_MASK } from '../backend/kernels/top-k-mask.js';
import { planFromChoices } from './kernels/plan.js';
import type { Routing } from './kernels/types.js';
import { kaimingUniform } from './lora.js';
import type { Router } from './router.js';
import type { Route } from './routing.js';

/** (N, E) 1 on each row's k largest entries, else 0; zero gradient. */
export function topKMask(probs: tf.Tensor2D, k: number): tf.Tensor2D {
  return runKernel(TOP_K_MASK, { probs }, { k });
}

/** Switch load balance E·Σ_e f_e·P_e: f_e the share of the N·k choices on e, P_e the mean gate probability. */
export function switchBalanceLoss(probs: tf.Tensor2D, mask: tf.Tensor2D, k: number): tf.Scalar {
  const E = probs.shape[1];
  const f = tf.div(tf.mean(mask, 0), k); // (E,)
  const P = tf.mean(probs, 0); // (E,)
  return tf.mul(tf.sum(tf.mul(f, P)), E) as tf.Scalar; // 1 when balanced
}

/** Host choices (N·k), token-major, ascending expert index, from a 0/1 mask (one device read). */
function choicesOf(mask: tf.Tensor2D, k: number): Int32Array {
  const [N, E] = mask.shape;
  const m = mask.dataSync();
  const out = new Int32Array(N * k);
  for (let t = 0; t < N; t++) {
    let j = 0;
    for (let e = 0; e < E && j < k; e++) if (m[t * E + e] > 0.5) out[t * k + j++] = e;
  }
  return out;
}

export class TopKRouter implements Router {
  /** Gate (in, E). */
  readonly weight: tf.Variable;

  constructor(
    inFeatures: number,
    readonly numExperts: number,
    readonly k: number,
    seed: string,
  ) {
    const w = kaimingUniform(inFeatures, numExperts, inFeatures, `${seed}:router`);
    this.weight = tf.variable(w, true);
    w.dispose();
  }

  route(x: tf.Tensor2D, route: Route | undefined): Routing {
    const { k, numExperts: E } = this;
    const probs = tf.softmax(tf.matMul(x, this.weight as tf.Tensor2D)) as tf.Tensor2D; // (N, E)
    const mask = topKMask(probs, k); // (N, E)
    const kept = tf.mul(probs, mask); // (N, E)
    const weights = tf.div(kept, tf.sum(kept, 1, true)) as tf.Tensor2D; // (N, E), rows sum to 1
    if (route) route.addAuxLoss(switchBalanceLoss(probs, mask, k));
    let plan: ReturnType<typeof planFromChoices> | undefined;
    return { kind: 'topk', weights, k, plan: () => (plan ??= planFromChoices(choicesOf(mask, k), k, E)) };
  }

  namedVariables(): Map<string, tf.Variable> {
    return new Map([['weight', this.weight]]);
  }

  dispose(): void {
    this.weight.dispose();
  }
}

/**
 * Mean of the balance losses the learned routers pushed onto `route` during the forward (0 when none), and
 * clears them. Call inside the same tidy / minimize closure as the forward; weigh it by
 * `config.balanceLossWeight` and add it to the task loss.
 */
export function balanceLoss(route: Route): tf.Scalar {
  const losses = route.takeAuxLosses();
  if (losses.length === 0) return tf.scalar(0);
  return tf.div(tf.addN(losses), losses.length) as tf.Scalar;
}
