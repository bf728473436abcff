// The gradients of one optimizer step from its micro-batches, averaged, with their global norm and the clipping
// coefficient AdamW applies: computed in this process with tensor ops (`localGradients`), or by a pool of worker
// threads (`poolGradients`, parallel/), whose results are combined on the host (and their norm taken there). Both
// report every micro-batch's per-token NLL and auxiliary loss to the caller, in micro-batch order, so the trainer's
// figures do not depend on the path.
import * as tf from '@tensorflow/tfjs';
import { jsKernelsActive } from '../backend/kernels/backends.js';
import { hostView } from '../backend/kernels/js-kernel.js';
import type { ExpertConfig } from '../experts/config.js';
import { batchRoute } from '../experts/kinds.js';
import type { Transformer } from '../model/transformer.js';
import { ConfigError } from '../util/errors.js';
import { type HostBatch, toTensors } from './batch.js';
import { clipCoefficient, globalNorm, hostGlobalNorm } from './clip.js';
import type { Workload } from './parallel/auto.js';
import type { GradientPool, ParallelOptions } from './parallel/pool.js';
import { gradsFromHost } from './parallel/replica.js';
import { missingInAll, stepGradients } from './parallel/shard.js';
import { batchGradients } from './step.js';

/** Receives each micro-batch's per-token NLL and auxiliary loss, in micro-batch order. */
export type MicroStats = (batch: HostBatch, nll: Float32Array, aux: number) => void;

/**
 * A step's mean gradients (the caller disposes them), their global norm, and the factor global-norm clipping scales
 * them by (clip.ts `clipCoefficient`), which AdamW applies in its update: no clipped copy is made.
 */
export interface StepGradients {
  grads: tf.NamedTensorMap;
  gradNorm: number;
  gradScale: number;
}

/** How a step's gradients are computed. */
export interface GradientPath {
  /**
   * The gradients of optimizer step `step` (1-based) over `group`; micro-batch m is routed with seed
   * `routeSeed(m)`.
   */
  compute(
    step: number,
    group: readonly HostBatch[],
    routeSeed: (m: number) => string,
    record: MicroStats,
  ): Promise<StepGradients>;
}

/** Settings both paths share. */
export interface GradientSettings {
  /** The trainable variables by dotted name, in model order. */
  vars: ReadonlyMap<string, tf.Variable>;
  /** The attached experts' config (routing of each batch), or null. */
  experts: Readonly<ExpertConfig> | null;
  /** Weight of the routers' auxiliary loss (experts `auxLossWeight`). */
  auxWeight: number;
  /** Global-norm clipping threshold; 0 disables clipping. */
  clipNorm: number;
  /** Recompute blocks' activations in the backward (TrainConfig.activationCheckpointing). */
  activationCheckpointing: boolean;
}

/** What a run tells the opener of its gradient path (train's `options.gradients`). */
export interface GradientPathRequest {
  model: Transformer;
  settings: GradientSettings;
  /** TrainConfig.workers: 'auto' or a count. */
  workers: number | 'auto';
  /** What 'auto' weighs (parallel/auto.ts). */
  workload: Workload;
  parallel?: ParallelOptions;
}

/** A run's gradient path, how many workers compute it and why; disposing it stops a pool the opener started. */
export interface OpenedGradientPath extends AsyncDisposable {
  path: GradientPath;
  workers: number;
  reason: string;
}

/** Opens the gradient path of a run (train's `options.gradients`). */
export type GradientPathOpener = (request: GradientPathRequest) => Promise<OpenedGradientPath>;

/**
 * The in-process path (train's default): `workers` must be 'auto' (which means 1 here) or 1, since worker threads
 * belong to the Node entry's `train`; a page keeps itself responsive by running `train` in a Web Worker.
 */
export async function openLocalGradients(request: GradientPathRequest): Promise<OpenedGradientPath> {
  const { workers, parallel } = request;
  if (parallel?.pool || (workers !== 'auto' && workers !== 1))
    throw new ConfigError(
      'workers',
      parallel?.pool ? `a pool of ${parallel.pool.size}` : workers,
      "'auto' or 1 in this build (worker threads need the Node entry of mote-tfjs)",
    );
  return {
    path: localGradients(request.model, request.settings),
    workers: 1,
    reason: workers === 'auto' ? 'auto: in this process' : 'set',
    [Symbol.asyncDispose]: async () => {},
  };
}

/** Gradients computed in this process: micro-batches one after the other, summed with tensor ops. */
export function localGradients(model: Transformer, s: GradientSettings): GradientPath {
  return {
    async compute(_step, group, routeSeed, record) {
      let sum: tf.NamedTensorMap | null = null;
      for (let m = 0; m < group.length; m++) {
        const batch = group[m];
        const bt = toTensors(batch);
        const route = batchRoute(s.experts, batch, { seed: routeSeed(m), training: true });
        const out = batchGradients(model, bt, route, s.vars, s.auxWeight, s.activationCheckpointing);
        route?.dispose();
        tf.dispose(Object.values(bt));
        const prev: tf.NamedTensorMap | null = sum;
        sum = prev ? addUnion(prev, out.grads) : out.grads;
        if (prev) tf.dispose([Object.values(prev), Object.values(out.grads)]);
        record(batch, (await out.nll.data()) as Float32Array, (await out.balance.data())[0]);
        tf.dispose([out.loss, out.nll, out.balance]);
      }
      const grads = sum!;
      const mean = tf.tidy(() =>
        Object.fromEntries(Object.entries(grads).map(([k, g]) => [k, tf.div(g, group.length)])),
      );
      tf.dispose(Object.values(grads));
      const gradNorm = await meanNorm(mean, s.vars);
      return { grads: mean, gradNorm, gradScale: clipCoefficient(gradNorm, s.clipNorm) };
    },
  };
}

/**
 * Gradients from a worker pool: the workers' results are reduced on the host in micro-batch order (so the result
 * does not depend on which worker finished first), in one pass that also sums the norm's squares and writes the
 * gradient tensors. With fewer micro-batches than workers, each is split into shards whose results combine into its
 * own (parallel/shard.ts).
 */
export function poolGradients(pool: GradientPool, s: GradientSettings): GradientPath {
  return {
    async compute(step, group, routeSeed, record) {
      const items = group.map((batch, m) => ({ batch, routeSeed: routeSeed(m) }));
      const micro = await stepGradients(pool, step, s.vars, items, s.activationCheckpointing);
      for (const [m, r] of micro.entries()) record(group[m], r.nll, r.balance);
      const gradients = micro.map((r) => r.gradient);
      const { grads, norm } = gradsFromHost(pool.spec, gradients, missingInAll(micro));
      return { grads, gradNorm: norm, gradScale: clipCoefficient(norm, s.clipNorm) };
    },
  };
}

/**
 * The global norm of the mean gradients, in the variables' order: on wasm and cpu summed on the host over views of
 * the tensors, as the worker pool sums its host arrays (the same bits from both paths); elsewhere in tensor ops.
 */
async function meanNorm(mean: tf.NamedTensorMap, vars: ReadonlyMap<string, tf.Variable>): Promise<number> {
  if (jsKernelsActive())
    return hostGlobalNorm(
      [...vars.keys()].filter((k) => mean[k]).map((k) => hostView(mean[k]) as Float32Array),
    );
  const norm = tf.tidy(() => globalNorm(mean));
  const value = (await norm.data())[0];
  norm.dispose();
  return value;
}

/** a + b per key; a variable that one micro-batch does not reach has no gradient there: the union of the keys. */
function addUnion(a: tf.NamedTensorMap, b: tf.NamedTensorMap): tf.NamedTensorMap {
  return tf.tidy(() => {
    const keys = new Set<string>([...Object.keys(a), ...Object.keys(b)]);
    return Object.fromEntries(
      [...keys].map((k): [string, tf.Tensor] => {
        const [x, y] = [a[k], b[k]];
        return [k, x && y ? tf.add(x, y) : tf.clone((x ?? y) as tf.Tensor)];
      }),
    );
  });
}
