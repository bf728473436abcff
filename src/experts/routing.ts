// Step-level routing (method.md §2): the expert of every token is known from the step special tokens before the
// forward pass. The contract between the trainer / decoder and the MoTE layers:
//
//   // training: one Route per batch, from the AlignCoT step ids (or stage names) and the batch shape
//   const route = buildStepRoute(batch.stepIds, [B, T], { experts: config.stepExperts, training: true,
//                                                        seed: `${seed}:${step}`, docIds: batch.docIds });
//   optimizer.minimize(() => {
//     const logits = model.forward(ids, { ctx: withRoute(route) });          // every layer reads this Route
//     return tf.add(nll(logits), tf.mul(balanceLoss(route), config.balanceLossWeight)); // 0 unless moe-topk
//   }, false, model.trainableVariables());
//   route.dispose();                                     // frees device tensors built outside a tidy, if any
//
//   // decoding one step of a chain: a uniform route (any number of tokens) with merged weights
//   model.decode(ids, cache, { ctx: withRoute(decodeRoute(config.stepExperts, 'analysis')) });
//
// `ctx.route` is a Route. Host side: `stepIds` (B·T,) row-major, one expert index per flattened token
// (−1 = no step expert: shared only), or one `uniform` step for any number of tokens (decoding), or neither
// (moe-topk: the gates route; the Route only collects their balance losses). Device side, built lazily ONCE per
// forward and reused by every layer: the one-hot mask (N, E) (reference, dense kernels) and the segment plan's
// index tensors (segmented kernel, device backends). A device tensor built inside a tidy is owned by that tidy
// and rebuilt on the next forward; one built outside any tidy lives until `dispose()`.
// Question tokens: per sample (per chain with docIds) a seeded random step expert when training [paper], a
// named expert or 'shared' at inference [open]. Expert names are user-visible; indices are internal and mapped
// here only (`expertIndex`).
import * as tf from '@tensorflow/tfjs';
import seedrandom from 'seedrandom';
import type { LinearContext } from '../model/linear.js';
import {
  type ExpertName,
  expertIndex,
  NO_EXPERT,
  QUESTION_EXPERT,
  SHARED,
  SHARED_ONLY,
  STEP_ID,
  STEP_LABELS,
  type Stage,
  stepExpertTable,
} from '../steps.js';
import type { StepExpert } from './config.js';
import { planFromStepIds, type SegmentPlan } from './kernels/plan.js';

/** The key of the Route in a LinearContext. */
export const ROUTE_KEY = 'route';

/** Per-token label given by name: a chain stage, the question, or null (padding: shared only). */
export type TokenStage = Stage | 'question' | null;

export interface RouteOptions {
  /** Training forward: enables adapter dropout. Default false. */
  training?: boolean;
  /**
   * Inference only: tokens go through their step's merged weight: one matmul when every token has the same step;
   * else one per step present, over all tokens, selected per row (for decoding batches, where N is small).
   * Default false.
   */
  merged?: boolean;
}

/** Routing of one forward's flattened (B·T) tokens; shared by every layer. */
export class Route {
  private aux: tf.Scalar[] = [];
  /** Auxiliary losses of training forwards, kept until dispose(). */
  private owned: tf.Scalar[] = [];
  readonly training: boolean;
  readonly merged: boolean;
  /** (N,) expert index per token (−1: shared only), or null for a uniform or learned-routing route. */
  readonly stepIds: Int32Array | null;
  /** The step of every token whatever their number (decoding), or null. */
  readonly uniform: number | null;
  private readonly tensors = new Map<string, tf.Tensor>();
  private readonly plans = new Map<string, SegmentPlan>();
  private readonly filled = new Map<number, Int32Array>();

  /**
   * @param experts routed expert names, in index order (a layer checks they equal its own).
   * @param steps per-token expert indices (N,), −1 for shared only; or one index for every token, any N
   *   (decoding); or null when routers learn the routing (moe-topk).
   */
  constructor(
    readonly experts: readonly string[],
    steps: Int32Array | number | null,
    options: RouteOptions = {},
  ) {
    this.training = options.training ?? false;
    this.merged = options.merged ?? false;
    if (this.training && this.merged)
      throw new Error('Route: merged weights are for inference, not training');
    if (new Set(experts).size !== experts.length)
      throw new Error(`Route: repeated expert names [${experts}]`);
    this.stepIds = steps instanceof Int32Array ? steps : null;
    this.uniform = typeof steps === 'number' ? steps : null;
    const E = experts.length;
    const ids = this.stepIds ?? (this.uniform !== null ? [this.uniform] : []);
    if (this.stepIds?.length === 0) throw new Error('Route: no tokens');
    for (let i = 0; i < ids.length; i++) {
      const s = ids[i];
      if (!(Number.isInteger(s) && s >= SHARED_ONLY && s < E))
        throw new Error(
          `Route: step id out of range at token ${i}: ${s}; expected -1 (shared only) or 0..${E - 1} (${experts.join(', ')})`,
        );
    }
  }

  /** Auxiliary losses the learned routers added during the live forward (see `balanceLoss`). */
  get auxLosses(): readonly tf.Scalar[] {
    return this.liveAux();
  }

  /**
   * Adds a router's auxiliary loss (a tensor of the caller's tidy). A training forward frees each block's tensors
   * when the block is done (Transformer.hidden), so there the route keeps the loss itself until `dispose()`.
   */
  addAuxLoss(loss: tf.Scalar): void {
    if (this.training) this.owned.push(tf.keep(loss));
    this.liveAux().push(loss);
  }

  /** The live auxiliary losses, removed from the route. */
  takeAuxLosses(): tf.Scalar[] {
    const live = this.liveAux();
    this.aux = [];
    return live;
  }

  /** Drops losses a finished tidy has disposed (an earlier forward's). */
  private liveAux(): tf.Scalar[] {
    this.aux = this.aux.filter((t) => !t.isDisposed);
    return this.aux;
  }

  /** Number of routed tokens (B·T), or null when any number is accepted (uniform or learned routing). */
  get numTokens(): number | null {
    return this.stepIds ? this.stepIds.length : null;
  }

  /** Whether the route carries step routing (per-token ids or a uniform step). */
  get hasSteps(): boolean {
    return this.stepIds !== null || this.uniform !== null;
  }

  /** The step id every token shares, or null when they differ (or routing is learned). */
  uniformStep(): number | null {
    if (this.uniform !== null) return this.uniform;
    const s = this.stepIds;
    if (!s) return null;
    for (let i = 1; i < s.length; i++) if (s[i] !== s[0]) return null;
    return s[0];
  }

  /** The step ids of N tokens (checks N against a per-token route). */
  stepIdsFor(N: number): Int32Array {
    if (this.stepIds) {
      if (this.stepIds.length !== N)
        throw new Error(`Route: it routes ${this.stepIds.length} tokens, the input has ${N} rows`);
      return this.stepIds;
    }
    if (this.uniform === null) throw new Error('Route: this route has no step ids (learned routing)');
    let ids = this.filled.get(N);
    if (!ids) this.filled.set(N, (ids = new Int32Array(N).fill(this.uniform)));
    return ids;
  }

  /** A device tensor built once per forward: cached under `key`, rebuilt when its tidy has disposed it. */
  cached<T extends tf.Tensor>(key: string, build: () => T): T {
    const t = this.tensors.get(key);
    if (t && !t.isDisposed) return t as T;
    const fresh = build();
    this.tensors.set(key, fresh);
    return fresh;
  }

  /** (N, E) float32 one-hot of the step ids (an all-zero row for shared-only tokens). */
  oneHot(N: number): tf.Tensor2D {
    const ids = this.stepIdsFor(N);
    return this.cached(`oneHot:${N}`, () => {
      const E = this.experts.length;
      const m = new Float32Array(N * E);
      ids.forEach((s, t) => {
        if (s >= 0) m[t * E + s] = 1;
      });
      return tf.tensor2d(m, [N, E]);
    });
  }

  /** Host segment plan of the step ids of N tokens (cached per route). */
  plan(shared: boolean, N: number): SegmentPlan {
    const ids = this.stepIdsFor(N);
    const key = `${shared}:${N}`;
    let p = this.plans.get(key);
    if (!p) this.plans.set(key, (p = planFromStepIds(ids, this.experts.length, shared)));
    return p;
  }

  /** Frees device tensors that outlived their tidy (or were built outside one). */
  dispose(): void {
    for (const t of this.tensors.values()) t.dispose();
    this.tensors.clear();
    for (const p of this.plans.values()) p.dispose();
    this.plans.clear();
    tf.dispose(this.owned);
    this.owned = [];
  }

  /** A stable description (decoders key their merged-weight snapshots by JSON.stringify(ctx)). */
  toJSON(): object {
    const { experts, uniform, training, merged } = this;
    return { experts, uniform, stepIds: this.stepIds ? Array.from(this.stepIds) : null, training, merged };
  }
}

export interface StepRouteOptions extends RouteOptions {
  /** Routed step experts in index order (the resolved config's `stepExperts`). */
  experts: readonly StepExpert[];
  /**
   * Expert of question tokens: `'random'` draws one step expert per sample from `seed` (training [paper]);
   * a step name or `'shared'` (no step expert) fixes it (inference [open]). Default 'random' when training,
   * else 'shared'.
   */
  question?: 'random' | ExpertName;
  /** Seed of the per-sample question draw; vary it per batch (e.g. `${seed}:${step}`). Default 0. */
  seed?: string | number;
  /**
   * Chain index of each token within its row, −1 for padding (aligncot `HostBatch.docIds`). With it, packed
   * rows draw one question expert per chain, and padding goes to the shared expert only.
   */
  docIds?: ArrayLike<number>;
}

/**
 * Builds a Route from per-token step ids and the batch shape [B, T]. The ids are the AlignCoT encoder's (STEP_ID:
 * question 0, analysis 1, guidance 2, answer 3, check 4), flat (B·T, row-major); labels by name (`'question'`, a
 * Stage, or null for shared only, flat or one row per sample) are accepted too. The step → expert table of
 * src/steps.ts gives each token its expert; question tokens follow `options.question`.
 */
export function buildStepRoute(
  labels: ArrayLike<number> | readonly TokenStage[] | readonly (readonly TokenStage[])[],
  batchShape: readonly [number, number],
  options: StepRouteOptions,
): Route {
  const [B, T] = batchShape;
  if (!(Number.isInteger(B) && B > 0 && Number.isInteger(T) && T > 0))
    throw new Error(`buildStepRoute: batch shape must be two positive integers, got [${batchShape}]`);
  const byName = isNames(labels);
  const stepIds = byName ? namesToStepIds(labels) : (labels as ArrayLike<number>);
  if (stepIds.length !== B * T)
    throw new Error(
      `buildStepRoute: ${stepIds.length} labels for batch shape [${B}, ${T}] (expected ${B * T})`,
    );
  const { experts, docIds } = options;
  if (docIds && docIds.length !== B * T)
    throw new Error(`buildStepRoute: ${docIds.length} docIds for ${B * T} tokens`);
  const question = options.question ?? (options.training ? 'random' : SHARED);
  const fixed = question === 'random' ? null : expertIndex(experts, question);
  const rng = seedrandom.alea(String(options.seed ?? 0));
  // drawn in order of first appearance of each (row, chain), so the draws depend only on the batch layout
  const drawn = new Map<string, number>();
  const questionExpert = (i: number): number => {
    if (fixed !== null) return fixed;
    const key = `${Math.floor(i / T)}:${docIds ? docIds[i] : 0}`;
    let e = drawn.get(key);
    if (e === undefined) drawn.set(key, (e = Math.floor(rng() * experts.length)));
    return e;
  };
  const table = stepExpertTable(experts);
  const ids = new Int32Array(B * T);
  for (let i = 0; i < ids.length; i++) {
    const step = stepIds[i];
    const e = byName && step === PADDING ? SHARED_ONLY : table[step];
    if (e === undefined)
      throw new Error(
        `buildStepRoute: step id ${step} at [${Math.floor(i / T)}][${i % T}] is not one of 0..${STEP_LABELS.length - 1} (${STEP_LABELS.join(', ')})`,
      );
    if (e === NO_EXPERT)
      throw new Error(
        `buildStepRoute: label '${STEP_LABELS[step]}' at [${Math.floor(i / T)}][${i % T}] has no expert; step experts are ${experts.join(', ')}`,
      );
    ids[i] = docIds && docIds[i] < 0 ? SHARED_ONLY : e === QUESTION_EXPERT ? questionExpert(i) : e;
  }
  return new Route(experts, ids, options);
}

/** Step id standing for a padding token given by name (null): shared expert only. */
const PADDING = -1;

function isNames(
  labels: ArrayLike<number> | readonly TokenStage[] | readonly (readonly TokenStage[])[],
): labels is readonly TokenStage[] | readonly (readonly TokenStage[])[] {
  return Array.isArray(labels) && labels.length > 0 && typeof labels[0] !== 'number';
}

/** Labels by name (flat or per row) → step ids, PADDING for null. */
function namesToStepIds(labels: readonly TokenStage[] | readonly (readonly TokenStage[])[]): number[] {
  const flat = (
    Array.isArray(labels[0]) ? (labels as readonly (readonly TokenStage[])[]).flat() : labels
  ) as readonly TokenStage[];
  return flat.map((label) => {
    if (label === null) return PADDING;
    const id = STEP_ID[label];
    if (id === undefined)
      throw new Error(
        `buildStepRoute: unknown label '${label}'; expected one of ${STEP_LABELS.join(', ')} or null`,
      );
    return id;
  });
}

/** Every token, however many, on one step (decoding); merged weights by default. */
export function decodeRoute(
  experts: readonly StepExpert[],
  step: ExpertName,
  options: RouteOptions = { merged: true },
): Route {
  return new Route(experts, expertIndex(experts, step), options);
}

/** A route for learned routers (moe-topk): no step ids, only collects the balance losses. */
export function learnedRoute(options: RouteOptions = {}): Route {
  return new Route([], null, options);
}

/** The LinearContext that carries `route` to every linear. */
export function withRoute(route: Route): LinearContext {
  return { [ROUTE_KEY]: route };
}

/** The Route of a forward's context, if any. */
export function routeOf(ctx: LinearContext | undefined): Route | undefined {
  const r = ctx?.[ROUTE_KEY];
  if (r === undefined) return undefined;
  if (!(r instanceof Route)) throw new Error(`ctx.${ROUTE_KEY} must be a Route (experts/routing.ts)`);
  return r;
}
