// Gradient maps keyed by dotted variable name: computing them, global-norm clipping (PyTorch
// `clip_grad_norm_`), and NaN/Inf checks that name what went wrong.
import * as tf from '@tensorflow/tfjs';
import { leanGradients } from './backprop.js';

/** Gradients by dotted variable name (`blocks.0.attn.q.stepA`), as a Map or a plain object. */
export type NamedGrads = Map<string, tf.Tensor> | tf.NamedTensorMap;

/** [name, gradient] pairs of either form, in insertion order. */
export function gradEntries(grads: NamedGrads): [string, tf.Tensor][] {
  return grads instanceof Map ? [...grads] : Object.entries(grads);
}

/**
 * `tf.variableGrads` with the gradients keyed by our dotted names instead of tfjs's internal variable names, computed
 * by `leanGradients` (the same numbers, in less memory: backprop.ts). Variables the loss does not depend on get no
 * entry. Pure: call inside the caller's tidy. The gradients come back as a plain object because `tf.tidy` keeps the
 * tensors of returned objects and arrays, not of Maps.
 */
export function namedGradients(
  f: () => tf.Scalar,
  vars: ReadonlyMap<string, tf.Variable>,
): { value: tf.Scalar; grads: tf.NamedTensorMap } {
  const names = [...vars.keys()];
  const { value, grads } = leanGradients(f, [...vars.values()]);
  const out: tf.NamedTensorMap = {};
  grads.forEach((g, i) => {
    if (g) out[names[i]] = g;
  });
  return { value, grads: out };
}

/** Global L2 norm √(Σ_i ‖g_i‖²) over all gradients, as a scalar. Pure: call inside a tidy. */
export function globalNorm(grads: NamedGrads): tf.Scalar {
  const squares = gradEntries(grads).map(([, g]) => tf.sum(tf.square(g)));
  if (squares.length === 0) return tf.scalar(0);
  return tf.sqrt(squares.length === 1 ? squares[0] : tf.addN(squares)) as tf.Scalar;
}

/**
 * √(Σ g²) of gradients on the host (arrays, or views of tensors: js-kernel.ts `hostView`), summed in float64 in the
 * order given: the in-process trainer and the worker pool sum the same values in the same order, so their norms,
 * and the steps they take, are the same bits.
 */
export function hostGlobalNorm(parts: Iterable<ArrayLike<number>>): number {
  let ss = 0;
  for (const values of parts) for (let i = 0; i < values.length; i++) ss += values[i] * values[i];
  return Math.sqrt(ss);
}

/** Added to the norm before dividing, as PyTorch's `clip_grad_norm_` does. */
const CLIP_EPS = 1e-6;

/**
 * The factor global-norm clipping scales every gradient by: min(1, maxNorm / (norm + 1e-6)), as PyTorch's
 * `clip_grad_norm_`; 1 when `maxNorm` is 0 (no clipping). The trainer hands it to AdamW (`applyGradients`'s
 * gradScale) instead of scaling a copy of the gradients; `clipByGlobalNorm` is the same rule in tensor ops.
 */
export function clipCoefficient(norm: number, maxNorm: number): number {
  if (!(maxNorm >= 0)) throw new RangeError(`clipCoefficient: maxNorm must be ≥ 0, got ${maxNorm}`);
  return maxNorm === 0 ? 1 : Math.min(1, maxNorm / (norm + CLIP_EPS));
}

/**
 * Scales every gradient by min(1, maxNorm / (norm + 1e-6)), as PyTorch's `clip_grad_norm_` does, and returns
 * the scaled gradients (a plain object, so a tidy can return it) with the pre-clip global norm (read it with
 * `await norm.data()` after the tidy). A `maxNorm` of 0 disables clipping: the gradients are returned as they
 * are. A non-finite norm propagates into the gradients: check it before applying them. Pure: call inside a tidy.
 */
export function clipByGlobalNorm(
  grads: NamedGrads,
  maxNorm: number,
): { grads: tf.NamedTensorMap; norm: tf.Scalar } {
  if (!(maxNorm >= 0)) throw new RangeError(`clipByGlobalNorm: maxNorm must be ≥ 0, got ${maxNorm}`);
  const entries = gradEntries(grads);
  const norm = globalNorm(grads);
  if (maxNorm === 0) return { grads: Object.fromEntries(entries), norm };
  const coef = tf.minimum(tf.div(maxNorm, tf.add(norm, CLIP_EPS)), 1);
  return { grads: Object.fromEntries(entries.map(([name, g]) => [name, tf.mul(g, coef)])), norm };
}

/** A loss, norm or gradient is NaN or ±Inf: training cannot continue from this step. */
export class NonFiniteError extends Error {
  constructor(
    /** What was non-finite, e.g. `loss` or `grad norm`. */
    readonly what: string,
    readonly value: number,
    /** Optimizer step at which it happened, when known. */
    readonly step?: number,
    /** Variables whose gradients hold NaN/Inf, when known. */
    readonly variables: readonly string[] = [],
  ) {
    const at = step === undefined ? '' : ` at step ${step}`;
    const vars = variables.length ? `; non-finite gradients in ${variables.join(', ')}` : '';
    super(`${what} is ${value}${at}${vars}`);
    this.name = 'NonFiniteError';
  }
}

/** Throws NonFiniteError unless `value` is a finite number. */
export function assertFinite(what: string, value: number, step?: number): void {
  if (!Number.isFinite(value)) throw new NonFiniteError(what, value, step);
}

/**
 * Names of the gradients holding a NaN or ±Inf, in map order (one host read). Use it after a non-finite norm
 * to name the culprits. Tidied; the gradients are left alive.
 */
export async function nonFiniteGradients(grads: NamedGrads): Promise<string[]> {
  const entries = gradEntries(grads);
  if (entries.length === 0) return [];
  // Σ g·0 is NaN exactly when g holds a NaN or an Inf (Inf·0 = NaN), and 0 otherwise: no overflow from squaring.
  const flags = tf.tidy('nonFiniteGradients', () => tf.stack(entries.map(([, g]) => tf.sum(tf.mul(g, 0)))));
  const values = await flags.data();
  flags.dispose();
  return entries.filter((_, i) => !Number.isFinite(values[i])).map(([name]) => name);
}
