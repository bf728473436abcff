// Timing the mixing of one adapted projection, forward + backward as in training (gradients of x and of the adapter
// factors, W0 frozen), on whatever backend is active: what calibration (calibrate.ts) and the mixing benchmark
// (src/bench/mix-impls.ts) measure. Wall time, every output read back, so GPU work is counted; no Node API, so it
// runs in a browser page too.
import * as tf from '@tensorflow/tfjs';
import seedrandom from 'seedrandom';
import { median, timeRounds } from '../../util/timing.js';
import { Route } from '../routing.js';
import type { MixInput, Routing } from './types.js';

/** The layer measured: N tokens, d → d, rank r, `experts` step experts + shared (or a single LoRA). */
export interface MixShape {
  tokens: number;
  dim: number;
  rank: number;
  experts: number;
  /** 'chain-batch': 8 rows of chains (question → analysis → guidance → answer); 'lora': one always-on expert. */
  routing: 'chain-batch' | 'lora';
}

/** Step ids of `rows` chain-like rows of T tokens: a question (a random step expert), then one run per expert. */
export function chainStepIds(rows: number, T: number, experts: number, seed: string): Int32Array {
  const rng = seedrandom.alea(seed);
  const ids = new Int32Array(rows * T);
  for (let b = 0; b < rows; b++) {
    const cuts = [Math.floor((0.1 + 0.2 * rng()) * T)];
    for (let e = 1; e < experts; e++)
      cuts.push(cuts[e - 1] + Math.floor(((0.6 * T) / experts) * (0.5 + rng())));
    const question = Math.floor(rng() * experts);
    for (let t = 0; t < T; t++) {
      const after = cuts.findIndex((c) => t < c);
      ids[b * T + t] = after === 0 ? question : after < 0 ? experts - 1 : after - 1;
    }
  }
  return ids;
}

/** A layer's tensors and route, and one forward (+ backward) through a kernel. */
export class MixLayer {
  private readonly x: tf.Variable;
  private readonly w0: tf.Tensor2D;
  private readonly probe: tf.Tensor2D;
  private readonly factors: tf.Variable[];
  private readonly route: Route | null;
  private readonly input: Omit<MixInput, 'x' | 'xl' | 'routing'>;

  constructor(readonly shape: MixShape) {
    const { tokens: N, dim: d, rank: r, experts: E } = shape;
    const lora = shape.routing === 'lora';
    const normal = (dims: [number, number], std: number, seed: number) =>
      tf.randomNormal(dims, 0, std, 'float32', seed) as tf.Tensor2D;
    const variable = (dims: [number, number], std: number, seed: number) => {
      const init = normal(dims, std, seed);
      const v = tf.variable(init, true);
      init.dispose();
      return v;
    };
    this.x = variable([N, d], 1, 1); // (N, d)
    this.w0 = normal([d, d], 0.02, 2);
    this.probe = normal([N, d], 1, 3); // dL/dy
    const stepA = lora ? null : variable([d, E * r], 0.05, 4);
    const stepB = lora ? null : variable([E * r, d], 0.05, 5);
    const sharedA = variable([d, r], 0.05, 6);
    const sharedB = variable([r, d], 0.05, 7);
    this.factors = [stepA, stepB, sharedA, sharedB].filter((v) => v !== null) as tf.Variable[];
    const rows = Math.min(8, N);
    this.route = lora
      ? null
      : new Route(
          Array.from({ length: E }, (_, e) => `e${e}`),
          chainStepIds(rows, Math.ceil(N / rows), E, 'mix-layer').subarray(0, N),
          { training: true },
        );
    this.input = {
      w0: this.w0,
      stepA: stepA as tf.Tensor2D | null,
      stepB: stepB as tf.Tensor2D | null,
      sharedA: sharedA as tf.Tensor2D,
      sharedB: sharedB as tf.Tensor2D,
      rank: r,
      numExperts: lora ? 0 : E,
      stepCoef: lora ? 0 : 1,
      sharedCoef: lora ? 2 : 1,
    };
  }

  /**
   * The outputs of one pass through `mix` (a MixKernel's, or null for the base projection alone): y, or with
   * `backward` the loss and the gradients of x and every factor. Call inside a tidy.
   */
  run(mix: ((m: MixInput) => tf.Tensor2D) | null, backward: boolean): tf.Tensor[] {
    const routing: Routing = this.route ? { kind: 'step', route: this.route } : { kind: 'none' };
    const forward = () => {
      const x = this.x as tf.Tensor2D;
      return mix ? mix({ ...this.input, x, xl: x, routing }) : (tf.matMul(x, this.w0) as tf.Tensor2D);
    };
    if (!backward) return [forward()];
    const vars = mix ? [this.x, ...this.factors] : [this.x];
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(forward(), this.probe)) as tf.Scalar, vars);
    return [value, ...vars.map((v) => grads[v.name])];
  }

  dispose(): void {
    tf.dispose([this.x, this.w0, this.probe, ...this.factors]);
    this.route?.dispose();
  }
}

/** Wall ms of one call: its outputs read back (the device has finished), then disposed. */
export async function timeOnce(run: () => tf.Tensor[]): Promise<number> {
  const t0 = performance.now();
  const out = tf.tidy(run);
  await Promise.all(out.map((t) => t.data()));
  const ms = performance.now() - t0;
  tf.dispose(out);
  return ms;
}

/**
 * Times of each run over `repeats` interleaved rounds (util/timing.ts) after `warmup` rounds (shader compilation,
 * first uploads).
 */
export async function timeInterleaved(
  runs: readonly (readonly [string, () => tf.Tensor[]])[],
  warmup: number,
  repeats: number,
): Promise<Record<string, number[]>> {
  return timeRounds(
    runs.map(([name, run]) => [name, () => timeOnce(run)] as const),
    warmup,
    repeats,
  );
}

export { median };
