// The one interface every expert-mixing implementation follows. All compute, for every token t,
//
//   y_t = W0ᵀ·x_t + stepCoef · Σ_e w_{t,e} · B_eᵀA_eᵀ·x̃_t + sharedCoef · B_shᵀA_shᵀ·x̃_t
//
// (rows times (in, out) matrices in code: y = x·W0 + …), where x̃ is the adapter input (x after LoRA dropout),
// w the routing weights (one-hot for step routing, renormalised top-k for a learned gate), and the coefficients
// already hold the LoRA scaling: stepCoef = α·scale, sharedCoef = (1−α)·scale (scale for a single LoRA).
import type * as tf from '@tensorflow/tfjs';
import type { MixKernelName } from '../config.js';
import type { Route } from '../routing.js';
import type { SegmentPlan } from './plan.js';

/** How one layer's tokens reach the routed experts in one forward. */
export type Routing =
  /** No routed experts (single LoRA): only the shared expert. */
  | { readonly kind: 'none' }
  /** Hard step routing from the route's step ids (the paper). */
  | { readonly kind: 'step'; readonly route: Route }
  /** A learned top-k gate: weights (N, E), zero outside each token's k experts, rows summing to 1. */
  | {
      readonly kind: 'topk';
      readonly weights: tf.Tensor2D;
      readonly k: number;
      /** Host plan of the chosen experts (reads the choices from the device once, on first call). */
      readonly plan: () => SegmentPlan;
    };

export interface MixInput {
  /** Layer input (N, in): the base projection's input. */
  readonly x: tf.Tensor2D;
  /** Adapter input (N, in): x after LoRA dropout (the same tensor as x without dropout). */
  readonly xl: tf.Tensor2D;
  /** Frozen base weight (in, out). */
  readonly w0: tf.Tensor2D;
  /** Routed experts stacked: A (in, E·r), B (E·r, out); null when there are none. */
  readonly stepA: tf.Tensor2D | null;
  readonly stepB: tf.Tensor2D | null;
  /** Shared expert: A (in, r), B (r, out); null when disabled. */
  readonly sharedA: tf.Tensor2D | null;
  readonly sharedB: tf.Tensor2D | null;
  readonly rank: number;
  readonly numExperts: number;
  readonly stepCoef: number;
  readonly sharedCoef: number;
  readonly routing: Routing;
}

export interface MixKernel {
  readonly name: MixKernelName;
  /** y (N, out). Pure: call inside the caller's tidy. Gradients reach x, xl, the factors and routing weights. */
  mix(input: MixInput): tf.Tensor2D;
}
