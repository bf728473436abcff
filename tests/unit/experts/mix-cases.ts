// The routing cases every mixing kernel is held to the reference loop on: the unit tests (wasm, cpu) and the browser
// page (webgpu, with the WGSL programs) run this one table. No Node imports: the page bundles it.
import * as tf from '@tensorflow/tfjs';
import {
  MIX_KERNEL_IMPLS,
  type MixInput,
  type MixKernelName,
  Route,
  TopKRouter,
} from '../../../src/experts/index.js';
import type { Routing } from '../../../src/experts/kernels/types.js';
import { seededNormal } from '../../helpers/random.js';

export interface MixCase {
  name: string;
  rank: number;
  experts: number;
  alpha: number;
  shared: boolean;
  /** Per-token step ids (−1 shared only), 'lora' (no routed experts) or a top-k gate. */
  routing: number[] | 'lora' | { topK: number };
  /** Adapter input differs from x (dropout-like mask). */
  dropout?: boolean;
  /** Layer widths (default 24 → 20). */
  inF?: number;
  outF?: number;
}

const N_OF = (c: MixCase) => (Array.isArray(c.routing) ? c.routing.length : 18);

export const MIX_CASES: MixCase[] = [
  {
    name: 'contiguous segments, one sequence',
    rank: 4,
    experts: 3,
    alpha: 0.5,
    shared: true,
    routing: [0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 2],
  },
  {
    name: 'batch of 3, interleaved and uneven, shared-only question tokens',
    rank: 4,
    experts: 3,
    alpha: 0.5,
    shared: true,
    routing: [-1, -1, 0, 0, 0, 2, 2, 2, -1, 1, 1, 1, 1, 1, 2, 2, -1, -1, -1, 0, 2, 2, 2, 2],
  },
  {
    name: 'empty segment (expert 2 of 4 unused), rank 8, alpha 0.3',
    rank: 8,
    experts: 4,
    alpha: 0.3,
    shared: true,
    routing: [3, 3, 0, 0, 0, 1, 3, 3, 3, 0, 1, 1, 1, 1],
  },
  {
    name: 'no shared expert, shared-only tokens get nothing',
    rank: 4,
    experts: 3,
    alpha: 1,
    shared: false,
    routing: [-1, 0, 0, 1, 1, 2, -1, -1, 2, 2, 1, 0],
  },
  {
    name: 'one step for every token, alpha 0.7',
    rank: 2,
    experts: 3,
    alpha: 0.7,
    shared: true,
    routing: [1, 1, 1, 1, 1, 1, 1, 1, 1],
  },
  {
    name: 'single expert, rank 1',
    rank: 1,
    experts: 1,
    alpha: 0.5,
    shared: true,
    routing: [0, -1, 0, 0, -1],
  },
  { name: 'single LoRA (no routed experts)', rank: 4, experts: 0, alpha: 0, shared: true, routing: 'lora' },
  {
    name: 'adapter dropout (xl ≠ x)',
    rank: 4,
    experts: 3,
    alpha: 0.5,
    shared: true,
    routing: [2, 2, 0, 0, 1, 1, 1, -1, 0, 2],
    dropout: true,
  },
  {
    // every segment of one token; r and the widths are multiples of neither 4 nor the WGSL workgroup (64)
    name: 'one-token segments, rank 3, widths 70 → 45',
    rank: 3,
    experts: 3,
    alpha: 0.6,
    shared: true,
    routing: [0, 1, 2, -1, 2, 0, 1, -1, 0],
    inF: 70,
    outF: 45,
  },
  {
    name: 'two empty experts of 5, rank 5, no shared expert, widths 67 → 33',
    rank: 5,
    experts: 5,
    alpha: 1,
    shared: false,
    routing: [4, 4, 0, 0, 0, 2, 4, -1, 2, 2, 0, 4, 4, 4, 4, 2, 2],
    inF: 67,
    outF: 33,
    dropout: true,
  },
  { name: 'top-2 gate over 3 experts', rank: 4, experts: 3, alpha: 1, shared: false, routing: { topK: 2 } },
  {
    name: 'top-1 gate over 4 experts + shared',
    rank: 4,
    experts: 4,
    alpha: 0.5,
    shared: true,
    routing: { topK: 1 },
  },
  {
    name: 'top-3 gate over 3 experts + shared',
    rank: 2,
    experts: 3,
    alpha: 0.6,
    shared: true,
    routing: { topK: 3 },
  },
];

/** A case's variables (non-zero factors), its forward per kernel and its loss and gradients per kernel. */
export interface MixSetup {
  /** y (N, out) through `kernel`, tidied. */
  forward(kernel: MixKernelName): tf.Tensor2D;
  /** loss = Σ y ⊙ probe and its gradients by variable name. */
  run(kernel: MixKernelName): { value: tf.Scalar; grads: tf.NamedTensorMap };
  /** Variable name → 'x', 'gate', 'stepA', 'stepB', 'sharedA' or 'sharedB'. */
  names: Map<string, string>;
  dispose(): void;
}

export function setupMixCase(c: MixCase): MixSetup {
  const N = N_OF(c);
  const r = c.rank;
  const E = c.experts;
  const IN = c.inF ?? 24;
  const OUT = c.outF ?? 20;
  const seed = c.name;
  const variable = (init: tf.Tensor, trainable = true) => {
    const out = tf.variable(init, trainable);
    init.dispose();
    return out;
  };
  const v = (shape: number[], s: string, std = 0.5) => variable(seededNormal(shape, `${seed}:${s}`, std));
  const x = v([N, IN], 'x', 1);
  const w0 = variable(seededNormal([IN, OUT], `${seed}:w0`, 0.3), false);
  const stepA = E > 0 ? v([IN, E * r], 'stepA') : null;
  const stepB = E > 0 ? v([E * r, OUT], 'stepB') : null;
  const sharedA = c.shared ? v([IN, r], 'sharedA') : null;
  const sharedB = c.shared ? v([r, OUT], 'sharedB') : null;
  const router =
    typeof c.routing === 'object' && !Array.isArray(c.routing)
      ? new TopKRouter(IN, E, c.routing.topK, seed)
      : null;
  const route = Array.isArray(c.routing)
    ? new Route(
        Array.from({ length: E }, (_, i) => `e${i}`),
        Int32Array.from(c.routing),
      )
    : null;
  const probe = seededNormal([N, OUT], `${seed}:probe`);
  const dropMask = tf.tensor2d(
    Array.from({ length: N * IN }, (_, i) => ((i * 7) % 5 === 0 ? 0 : 1.25)),
    [N, IN],
  );
  const watched = [x, stepA, stepB, sharedA, sharedB, router?.weight].filter(
    (t): t is tf.Variable => t !== null && t !== undefined,
  );
  const scale = 2; // LoRA scaling folded into the coefficients
  const mix = (kernel: MixKernelName) => {
    const routing: Routing = router
      ? router.route(x as tf.Tensor2D, undefined)
      : route
        ? { kind: 'step', route }
        : { kind: 'none' };
    const input: MixInput = {
      x: x as tf.Tensor2D,
      xl: c.dropout ? (tf.mul(x, dropMask) as tf.Tensor2D) : (x as tf.Tensor2D),
      w0: w0 as tf.Tensor2D,
      stepA: stepA as tf.Tensor2D | null,
      stepB: stepB as tf.Tensor2D | null,
      sharedA: sharedA as tf.Tensor2D | null,
      sharedB: sharedB as tf.Tensor2D | null,
      rank: r,
      numExperts: E,
      stepCoef: c.alpha * scale,
      sharedCoef: (1 - c.alpha) * scale,
      routing,
    };
    return MIX_KERNEL_IMPLS[kernel].mix(input);
  };
  const names = new Map(
    watched.map((w) => [
      w.name,
      w === x
        ? 'x'
        : w === router?.weight
          ? 'gate'
          : w === stepA
            ? 'stepA'
            : w === stepB
              ? 'stepB'
              : w === sharedA
                ? 'sharedA'
                : 'sharedB',
    ]),
  );
  return {
    forward: (kernel) => tf.tidy(() => mix(kernel)),
    run: (kernel) => tf.variableGrads(() => tf.sum(tf.mul(mix(kernel), probe)) as tf.Scalar, watched),
    names,
    dispose: () => {
      tf.dispose([x, w0, probe, dropMask, ...watched]);
      router?.dispose();
      route?.dispose();
    },
  };
}

/** Whether a case is a top-1 gate, whose gate gets no task gradient (its one weight is renormalised to 1). */
export const gateHasNoGradient = (c: MixCase): boolean =>
  typeof c.routing === 'object' && !Array.isArray(c.routing) && c.routing.topK === 1;

/** max |a − b| / max |b| over the elements (the error relative to the reference's scale), and that scale. */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): { error: number; scale: number } {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return { error: a.length === b.length ? diff / scale : Number.POSITIVE_INFINITY, scale };
}
