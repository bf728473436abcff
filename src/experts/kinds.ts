// What each adapter kind means to the rest of the library, in one table: the only place that switches on
// `ExpertConfig.kind`. A kind says which experts a layer holds and how they are weighted, how a training batch and
// a decoding stage are routed, whether its experts merge into one weight per step, whether a micro-batch may be
// split over workers, which auxiliary loss its routers add, and how it maps onto PEFT adapters. Trainers,
// decoders, exporters and the CLI ask the functions below; they never test the kind themselves.
import { type ExpertName, expertIndex, expertOfStage, SHARED, type Stage } from '../steps.js';
import type { ExpertConfig, ExpertKind } from './config.js';
import { type Router, StepRouter } from './router.js';
import { buildStepRoute, decodeRoute, learnedRoute, Route } from './routing.js';
import { TopKRouter } from './top-k-router.js';

type Config = Readonly<ExpertConfig>;

/** The behaviour of one adapter kind. */
interface KindSpec {
  /** Routed expert names, in index order. */
  routed(c: Config): readonly string[];
  /** Whether each layer has an always-on expert (the shared expert, or the single LoRA itself). */
  alwaysOn(c: Config): boolean;
  /** Weight of the routed experts (α); the always-on expert gets 1 − α. */
  routedWeight(c: Config): number;
  /** The router of one layer (`seed` and `path` name it), or null when nothing is routed. */
  router(c: Config, inFeatures: number, seed: string, path: string): Router | null;
  /**
   * How tokens reach the routed experts: by the step ids of the data (needs examples with step ids), by a learned
   * gate in each layer, or not at all (no routed experts).
   */
  routing: 'step' | 'learned' | 'none';
  /** Whether one merged weight per step exists (a learned per-token gate has none). */
  mergeable: boolean;
  /**
   * Whether a micro-batch may be cut by rows over workers and the shards' gradients combined exactly. Not when
   * the routers add a loss over the whole batch (the balance loss is not a sum over rows).
   */
  shardable: boolean;
  /**
   * Whether blocks may be checkpointed (activation checkpointing: a block's forward runs again for the backward).
   * Not when the routers record per-forward state for a loss over the whole forward (the balance loss).
   */
  checkpointable: boolean;
  /** Weight of the routers' auxiliary loss in the training objective (0: none). */
  auxLossWeight(c: Config): number;
  /** PEFT form: one LoRA adapter per expert plus mote_config.json, one LoRA adapter, or none. */
  peft: 'per-expert' | 'single' | null;
  /** Parameters of one layer's router (in → E gate). */
  routerParameters(c: Config, inFeatures: number): number;
  /** Experts whose LoRA product every token computes (FLOP counts). */
  expertsPerToken(c: Config): number;
  /** A short description for reports, e.g. `mote: analysis, guidance, answer + shared, rank 16`. */
  describe(c: Config): string;
}

const KINDS: Readonly<Record<ExpertKind, KindSpec>> = {
  mote: {
    routed: (c) => c.stepExperts,
    alwaysOn: (c) => c.shared,
    routedWeight: (c) => c.alpha,
    router: (c, _in, _seed, path) => new StepRouter(c.stepExperts, path),
    routing: 'step',
    mergeable: true,
    shardable: true,
    checkpointable: true,
    auxLossWeight: () => 0,
    peft: 'per-expert',
    routerParameters: () => 0,
    expertsPerToken: (c) => 1 + (c.shared ? 1 : 0),
    describe: (c) => `mote: ${c.stepExperts.join(', ')}${c.shared ? ' + shared' : ''}, rank ${c.rank}`,
  },
  lora: {
    routed: () => [],
    alwaysOn: () => true,
    routedWeight: () => 0,
    router: () => null,
    routing: 'none',
    mergeable: true,
    shardable: true,
    checkpointable: true,
    auxLossWeight: () => 0,
    peft: 'single',
    routerParameters: () => 0,
    expertsPerToken: () => 1,
    describe: (c) => `single LoRA, rank ${c.rank}`,
  },
  'moe-topk': {
    routed: (c) => Array.from({ length: c.numExperts }, (_, i) => `expert${i}`),
    alwaysOn: (c) => c.shared,
    routedWeight: (c) => c.alpha,
    router: (c, inFeatures, seed) => new TopKRouter(inFeatures, c.numExperts, c.topK, seed),
    routing: 'learned',
    mergeable: false,
    shardable: false,
    checkpointable: false,
    auxLossWeight: (c) => c.balanceLossWeight,
    peft: null,
    routerParameters: (c, inFeatures) => inFeatures * c.numExperts,
    expertsPerToken: (c) => c.topK + (c.shared ? 1 : 0),
    describe: (c) =>
      `moe-topk: ${c.numExperts} experts, top ${c.topK}${c.shared ? ' + shared' : ''}, rank ${c.rank}`,
  },
};

/** The kinds that have a PEFT form (one LoRA adapter per expert, or one LoRA adapter). */
export const PEFT_KINDS: readonly ExpertKind[] = Object.freeze(
  (Object.keys(KINDS) as ExpertKind[]).filter((k) => KINDS[k].peft !== null),
);

/** The behaviour of a resolved config's kind. */
export function adapterKind(c: Config): KindSpec {
  const spec = KINDS[c.kind];
  if (!spec) throw new Error(`unknown adapter kind ${JSON.stringify(c.kind)}`);
  return spec;
}

/** Names of the routed experts of a resolved config, in index order (`moe-topk` experts are `expert0` …). */
export function routedExpertNames(c: Config): readonly string[] {
  return adapterKind(c).routed(c);
}

/** Trainable adapter and router parameters of one projection (in → out) under config `c`. */
export function expertParameterCount(c: Config, inFeatures: number, outFeatures: number): number {
  const kind = adapterKind(c);
  const experts = kind.routed(c).length + (kind.alwaysOn(c) ? 1 : 0);
  return experts * c.rank * (inFeatures + outFeatures) + kind.routerParameters(c, inFeatures);
}

/** Weight of the routers' auxiliary loss in the training objective (0 without experts or such a loss). */
export function auxLossWeight(c: Config | null): number {
  return c ? adapterKind(c).auxLossWeight(c) : 0;
}

/** Whether a micro-batch may be cut by rows over workers with an exact result (true without experts). */
export function shardable(c: Config | null): boolean {
  return !c || adapterKind(c).shardable;
}

/** Whether training may checkpoint blocks (true without experts). */
export function checkpointable(c: Config | null): boolean {
  return !c || adapterKind(c).checkpointable;
}

/** Whether the experts merge into one weight per step (true without experts: the base is one weight). */
export function mergeable(c: Config | null): boolean {
  return !c || adapterKind(c).mergeable;
}

/** A short description of attached experts for reports. */
export function describeExperts(c: Config | null): string {
  return c ? adapterKind(c).describe(c) : 'no experts';
}

// ---------------------------------------------------------------------------------------------------
// Routing asked by the trainer and the decoders (c null: no experts attached, nothing to route)

/** The shape and step data of a batch, as the trainer's host batches carry them. */
export interface RoutableBatch {
  B: number;
  T: number;
  /** (B·T) step ids (src/steps.ts), when the examples have them. */
  stepIds?: ArrayLike<number>;
  /** (B·T) index of each token's example in its row, −1 for padding. */
  docIds?: ArrayLike<number>;
}

/**
 * The routing of a training or evaluation batch. Step routing sends every token to its step's expert, question
 * tokens to a step expert drawn per example from `seed` when training [paper] and to the shared expert otherwise;
 * a learned gate only collects its balance losses; a single LoRA needs none.
 */
export function batchRoute(
  c: Config | null,
  batch: RoutableBatch,
  options: {
    seed: string;
    training: boolean;
    /** The (B·T) expert indices already drawn for these rows (a shard of a micro-batch's route). */
    expertIds?: Int32Array;
  },
): Route | undefined {
  if (!c) return undefined;
  const { routing } = adapterKind(c);
  if (routing === 'none') return undefined;
  if (routing === 'learned') return learnedRoute({ training: options.training });
  if (options.expertIds) return new Route(c.stepExperts, options.expertIds, { training: options.training });
  if (!batch.stepIds)
    throw new Error(
      `${c.kind} experts route tokens by their step, but the examples carry no stepIds (encode chains with encodeChains)`,
    );
  return buildStepRoute(batch.stepIds, [batch.B, batch.T], {
    experts: c.stepExperts,
    training: options.training,
    seed: options.seed,
    docIds: batch.docIds,
    question: options.training ? 'random' : undefined,
  });
}

/**
 * The routing of a decoding forward: every token on `stages[0]`'s expert (one name), or one stage per row of
 * single tokens (B names). Stages without an expert of their own use the shared expert only; with `merged`, rows
 * go through their stage's merged weight.
 */
export function stageRoute(
  c: Config | null,
  stages: readonly ExpertName[],
  merged: boolean,
): Route | undefined {
  if (!c) return undefined;
  const { routing } = adapterKind(c);
  if (routing === 'none') return undefined;
  if (routing === 'learned') return learnedRoute();
  const own = (s: ExpertName) => expertOfStage(c.stepExperts, s);
  if (stages.length === 1) return decodeRoute(c.stepExperts, own(stages[0]), { merged });
  const steps = Int32Array.from(stages, (s) => expertIndex(c.stepExperts, own(s)));
  return new Route(c.stepExperts, steps, { merged });
}

/** The expert a stage's tokens use at inference (shown in events), or null when experts are not chosen by step. */
export function stageExpert(c: Config | null, stage: Stage): ExpertName | null {
  if (!c || adapterKind(c).routing !== 'step') return null;
  return expertOfStage(c.stepExperts, stage);
}

/** Throws when a forced chain of stages names a stage without a step expert (step routing only). */
export function checkStageExperts(c: Config | null, stages: readonly Stage[], caller: string): void {
  if (!c || adapterKind(c).routing !== 'step' || stages.length <= 1) return;
  for (const s of stages)
    if (!c.stepExperts.includes(s))
      throw new Error(`${caller}: stage '${s}' has no expert (step experts: ${c.stepExperts.join(', ')})`);
}

/** The expert names a user may merge or choose (`--merged`): the step experts and 'shared'. */
export function mergeChoices(c: Config): readonly ExpertName[] {
  return adapterKind(c).routing === 'step' ? [...c.stepExperts, SHARED] : [];
}
