// Routers turn one layer's input and the forward's Route into that layer's Routing (kernels/types.ts).
// StepRouter is the paper's: the routing is the step ids, known before the forward; no parameters, no loss.
// TopKRouter (top-k-router.ts) learns it.
import type * as tf from '@tensorflow/tfjs';
import type { Routing } from './kernels/types.js';
import type { Route } from './routing.js';
import { ROUTE_KEY } from './routing.js';

export interface Router {
  /** Routing of this layer's N tokens for one forward (x: (N, in)). Pure: call inside the caller's tidy. */
  route(x: tf.Tensor2D, route: Route | undefined): Routing;
  /** The router's own variables, by name relative to it. */
  namedVariables(): Map<string, tf.Variable>;
  dispose(): void;
}

/** Hard step routing from the Route's step ids [paper]. */
export class StepRouter implements Router {
  /** Routes whose expert names were checked (a Route's names never change). */
  private readonly checked = new WeakSet<Route>();

  constructor(
    readonly experts: readonly string[],
    /** Dotted path of the owning projection, for error messages. */
    readonly path: string,
  ) {}

  route(x: tf.Tensor2D, route: Route | undefined): Routing {
    const p = this.path;
    if (!route)
      throw new Error(`${p}: no routing in ctx; pass { ctx: withRoute(route) } (experts/routing.ts)`);
    if (!route.hasSteps) throw new Error(`${p}: ctx.${ROUTE_KEY} has no step ids (a learned-routing route)`);
    if (route.numTokens !== null && route.numTokens !== x.shape[0])
      throw new Error(`${p}: the route has ${route.numTokens} tokens, the input has ${x.shape[0]} rows`);
    if (!this.checked.has(route)) {
      if (route.experts.join() !== this.experts.join())
        throw new Error(
          `${p}: the route's experts [${route.experts}] differ from the layer's [${this.experts}]`,
        );
      this.checked.add(route);
    }
    return { kind: 'step', route };
  }

  namedVariables(): Map<string, tf.Variable> {
    return new Map();
  }

  dispose(): void {}
}
