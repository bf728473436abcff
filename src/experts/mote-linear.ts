// The MoTE linear (method.md §2): frozen base W0 + α·(the token's step expert) + (1−α)·(the shared expert),
// every expert a LoRA of rank r; step experts stacked in one A (in, E·r) and one B (E·r, out) (peft poly/layer.py
// keeps its skills stacked the same way). The same class serves the ablations: `lora` (only the always-on
// expert, coefficient 1) and `moe-topk` (a learned gate instead of step routing). Wraps a model Linear as PEFT
// wraps nn.Linear; the mixing itself is one of kernels/.
import * as tf from '@tensorflow/tfjs';
import seedrandom from 'seedrandom';
import { biasAdd } from '../backend/kernels/shape-only.js';
import type { Linear, LinearContext, LinearLike } from '../model/linear.js';
import { type ExpertName, expertIndex, SHARED_ONLY } from '../steps.js';
import type { ExpertConfig, MixKernelName } from './config.js';
import { mixKernel } from './kernels/index.js';
import type { Routing } from './kernels/types.js';
import { adapterKind } from './kinds.js';
import { initLoraFactors, loraDropout, loraScaling } from './lora.js';
import { MergedWeightCache, type MergeParts } from './merged-weights.js';
import type { Router } from './router.js';
import { type Route, routeOf } from './routing.js';

export class MoteLinear implements LinearLike {
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** Routed expert names in index order (step names for mote, `expert0…` for moe-topk, none for lora). */
  readonly experts: readonly string[];
  /** Routed experts: A (in, E·r), B (E·r, out); null for lora. */
  readonly stepA: tf.Variable | null = null;
  readonly stepB: tf.Variable | null = null;
  /** The always-on expert (the shared expert, or the single LoRA): A (in, r), B (r, out); null when disabled. */
  readonly sharedA: tf.Variable | null = null;
  readonly sharedB: tf.Variable | null = null;
  readonly router: Router | null;
  /** LoRA scaling loraAlpha / r (or / √r). */
  readonly scaling: number;
  /** α·scaling (routed experts) and (1−α)·scaling (shared expert); a single LoRA has sharedCoef = scaling. */
  readonly stepCoef: number;
  readonly sharedCoef: number;
  /** Mixing implementation used by `apply`. */
  kernel: MixKernelName | 'auto';
  private readonly mergedCache = new MergedWeightCache();
  /** Routed expert index pinned by `merge` (−1: shared only), or null when routing per token. */
  private pinned: number | null = null;
  private dropoutCalls = 0;
  private lastDropoutSeed: number | null = null;

  constructor(
    /** The wrapped projection; its weight is the frozen W0 (in, out). */
    readonly base: Linear,
    readonly config: Readonly<ExpertConfig>,
    /** Dotted path in the model (`blocks.0.attn.q`): seeds and error messages. */
    readonly path: string,
  ) {
    const [inF, outF] = base.weight.shape as [number, number];
    this.inFeatures = inF;
    this.outFeatures = outF;
    const { rank: r, initLoraWeights } = config;
    const kind = adapterKind(config);
    const seed = `${config.seed}:${path}`;
    this.experts = kind.routed(config);
    const E = this.experts.length;
    if (E > 0) {
      const f = initLoraFactors(inF, outF, r, E, `${seed}:step`, initLoraWeights);
      this.stepA = f.A;
      this.stepB = f.B;
    }
    if (kind.alwaysOn(config)) {
      const f = initLoraFactors(inF, outF, r, 1, `${seed}:shared`, initLoraWeights);
      this.sharedA = f.A;
      this.sharedB = f.B;
    }
    this.scaling = loraScaling(config.loraAlpha, r, config.rsLora);
    const alpha = kind.routedWeight(config);
    this.stepCoef = alpha * this.scaling;
    this.sharedCoef = (1 - alpha) * this.scaling;
    this.router = kind.router(config, inF, seed, path);
    this.kernel = config.kernel;
  }

  /** The frozen base weight W0 (in, out). */
  get weight(): tf.Variable {
    return this.base.weight;
  }

  /** The frozen base bias b0 (out), or null. */
  get bias(): tf.Variable | null {
    return this.base.bias;
  }

  /**
   * x (N, in) → (N, out) = the mixed projection (x·W0 + adapters, or x·W_merged) + b0. The kernels and the merged
   * weights compute x·W0 themselves and know nothing of a bias, so it is added here, once, on every path.
   * Reads the Route from `ctx` (experts/routing.ts). Pure: call inside a tidy.
   */
  apply(x: tf.Tensor2D, ctx?: LinearContext): tf.Tensor2D {
    const y = this.applyWeights(x, ctx); // (N, out)
    return this.bias ? biasAdd(y, this.bias as tf.Tensor1D) : y; // (N, out) + (out), saving nothing
  }

  private applyWeights(x: tf.Tensor2D, ctx?: LinearContext): tf.Tensor2D {
    if (x.rank !== 2 || x.shape[1] !== this.inFeatures)
      throw new Error(`${this.path}: expected input (N, ${this.inFeatures}), got [${x.shape}]`);
    const route = routeOf(ctx);
    if (this.pinned !== null) {
      if (route?.training) throw new Error(`${this.path}: merged (call unmerge() before training)`);
      return tf.matMul(x, this.mergedFor(this.pinned)); // (N, out)
    }
    const routing: Routing = this.router ? this.router.route(x, route) : { kind: 'none' };
    if (route?.merged && routing.kind !== 'topk') {
      const step = routing.kind === 'step' ? routing.route.uniformStep() : SHARED_ONLY;
      if (step !== null) return tf.matMul(x, this.mergedFor(step)); // (N, out)
      return this.mergedPerToken(x, route);
    }
    const training = route?.training ?? false;
    const xl = training ? loraDropout(x, this.config.dropout, this.dropoutSeed(ctx?.recompute === true)) : x;
    return mixKernel(this.kernel, routing.kind).mix({
      x,
      xl,
      w0: this.weight as tf.Tensor2D,
      stepA: this.stepA as tf.Tensor2D | null,
      stepB: this.stepB as tf.Tensor2D | null,
      sharedA: this.sharedA as tf.Tensor2D | null,
      sharedB: this.sharedB as tf.Tensor2D | null,
      rank: this.config.rank,
      numExperts: this.experts.length,
      stepCoef: this.stepCoef,
      sharedCoef: this.sharedCoef,
      routing,
    });
  }

  // ---------------------------------------------------------------- merged weights

  private parts: MergeParts | null = null;

  private mergeParts(): MergeParts {
    const { stepA, stepB, sharedA, sharedB, stepCoef, sharedCoef } = this;
    this.parts ??= {
      w0: this.weight,
      stepA,
      stepB,
      sharedA,
      sharedB,
      rank: this.config.rank,
      stepCoef,
      sharedCoef,
    };
    return this.parts;
  }

  /**
   * Tokens of different steps, each through its step's merged weight: one matmul over all N tokens per step present,
   * the rows of other steps zeroed by a 0/1 mask (exact). For a decoding batch, whose rows are in different steps:
   * N is small there, and a few matmuls cost fewer dispatches than mixing the unmerged experts.
   */
  private mergedPerToken(x: tf.Tensor2D, route: Route): tf.Tensor2D {
    const N = x.shape[0];
    const ids = route.stepIdsFor(N);
    let y: tf.Tensor2D | null = null;
    for (const s of new Set(ids)) {
      const rows = route.cached(`rowsOf:${s}:${N}`, () =>
        tf.tensor2d(
          Float32Array.from(ids, (i) => (i === s ? 1 : 0)),
          [N, 1],
        ),
      ); // (N, 1)
      const ys = tf.mul(tf.matMul(x, this.mergedFor(s)), rows) as tf.Tensor2D; // (N, out)
      y = y ? (tf.add(y, ys) as tf.Tensor2D) : ys;
    }
    return y!;
  }

  private mergedFor(step: number): tf.Tensor2D {
    if (tf.engine().state.gradientDepth > 0)
      throw new Error(
        `${this.path}: merged weights are for inference; gradients would not reach the experts`,
      );
    return this.mergedCache.get(this.mergeParts(), step);
  }

  /**
   * LinearLike: the one (in, out) matrix this projection equals for every token routed as in `ctx` (a pinned
   * `merge`, or a route with one step for every token, e.g. `decodeRoute`). Cached; owned by the layer.
   */
  weightFor(ctx?: LinearContext): tf.Tensor2D {
    if (this.pinned !== null) return this.mergedFor(this.pinned);
    if (!this.router) return this.mergedFor(SHARED_ONLY); // a single LoRA: one weight
    if (!adapterKind(this.config).mergeable) return this.mergedFor(this.stepIndex(null)); // throws
    const route = routeOf(ctx);
    if (!route)
      throw new Error(`${this.path}: weightFor needs ctx.route with one step for every token (decodeRoute)`);
    const step = route.uniformStep();
    if (step === null)
      throw new Error(
        `${this.path}: weightFor needs one step for every token (e.g. decodeRoute(experts, step))`,
      );
    if (route.experts.join() !== this.experts.join())
      throw new Error(
        `${this.path}: the route's experts [${route.experts}] differ from the layer's [${this.experts}]`,
      );
    return this.mergedFor(step);
  }

  /** The merged weight of `step` (a step expert name, or 'shared' for the shared expert alone), cached. */
  mergedWeight(step: ExpertName | null = null): tf.Tensor2D {
    return this.mergedFor(this.stepIndex(step));
  }

  /** Use `step`'s merged weight for every token until `unmerge()` (decoding a whole step). */
  merge(step: ExpertName | null = null): void {
    this.pinned = this.stepIndex(step);
  }

  /** Back to per-token routing (the merged weights stay cached until a factor changes). */
  unmerge(): void {
    this.pinned = null;
  }

  /** The step pinned by `merge`, or null. */
  get mergedStep(): string | null {
    return this.pinned === null ? null : this.pinned < 0 ? 'shared' : this.experts[this.pinned];
  }

  /** Drops every cached merged weight. */
  clearMergedCache(): void {
    this.mergedCache.clear();
  }

  private stepIndex(step: ExpertName | null): number {
    if (!this.router) return SHARED_ONLY; // a single LoRA: its one expert
    if (!adapterKind(this.config).mergeable)
      throw new Error(`${this.path}: a learned gate mixes experts per token; it cannot be merged`);
    if (step === null)
      throw new Error(`${this.path}: merge needs a step (one of ${this.experts}, or 'shared')`);
    return expertIndex(this.experts, step);
  }

  /** A new seed per training call; a recomputed forward (activation checkpointing) gets its first run's again. */
  private dropoutSeed(recompute: boolean): number {
    if (!recompute)
      this.lastDropoutSeed = Math.floor(
        seedrandom.alea(`${this.config.seed}:${this.path}:${this.dropoutCalls++}`)() * 2 ** 31,
      );
    if (this.lastDropoutSeed === null)
      throw new Error(`${this.path}: a recomputed forward before any training forward`);
    return this.lastDropoutSeed;
  }

  // ---------------------------------------------------------------- parameters

  /**
   * Base weight and bias as `weight` / `bias`; adapters as stepA/stepB/sharedA/sharedB (loraA/loraB for a single
   * LoRA); `router.weight`.
   */
  namedVariables(): Map<string, tf.Variable> {
    const out = new Map<string, tf.Variable>([['weight', this.weight]]);
    if (this.bias) out.set('bias', this.bias);
    const single = !this.router; // a single LoRA names its factors as PEFT does
    if (this.stepA && this.stepB) out.set('stepA', this.stepA).set('stepB', this.stepB);
    if (this.sharedA && this.sharedB) {
      out.set(single ? 'loraA' : 'sharedA', this.sharedA);
      out.set(single ? 'loraB' : 'sharedB', this.sharedB);
    }
    for (const [k, v] of this.router?.namedVariables() ?? []) out.set(`router.${k}`, v);
    return out;
  }

  /** Frees the adapters, the router and the merged weights, not the base (detach puts it back). */
  disposeAdapters(): void {
    for (const v of [this.stepA, this.stepB, this.sharedA, this.sharedB]) v?.dispose();
    this.router?.dispose();
    this.mergedCache.clear();
  }

  dispose(): void {
    this.disposeAdapters();
    this.base.dispose();
  }
}
