// Every mixing kernel equals the reference loop, forward and gradients (x, adapter input, A, B, gate), on random
// non-zero factors, on wasm and cpu, over a table of routing cases.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import {
  AUTO_KERNEL,
  MIX_KERNEL_IMPLS,
  MIX_KERNELS,
  type MixInput,
  mixKernel,
  Route,
  TopKRouter,
} from '../../../src/experts/index.js';
import type { Routing } from '../../../src/experts/kernels/types.js';
import { onBackend, seededNormal } from '../../helpers/index.js';

interface Case {
  name: string;
  rank: number;
  experts: number;
  alpha: number;
  shared: boolean;
  /** Per-token step ids (−1 shared only), 'lora' (no routed experts) or a top-k gate. */
  routing: number[] | 'lora' | { topK: number };
  /** Adapter input differs from x (dropout-like mask). */
  dropout?: boolean;
  /** Hand the kernels a cached W0ᵀ (as MoteLinear does); otherwise the backward transposes W0 itself. */
  baseT?: boolean;
}

const N_OF = (c: Case) => (Array.isArray(c.routing) ? c.routing.length : 18);
const CASES: Case[] = [
  {
    name: 'contiguous segments, one sequence',
    rank: 4,
    experts: 3,
    alpha: 0.5,
    shared: true,
    routing: [0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 2],
    baseT: true,
  },
  {
    name: 'batch of 3, interleaved and uneven, shared-only question tokens',
    rank: 4,
    experts: 3,
    alpha: 0.5,
    shared: true,
    routing: [-1, -1, 0, 0, 0, 2, 2, 2, -1, 1, 1, 1, 1, 1, 2, 2, -1, -1, -1, 0, 2, 2, 2, 2],
    baseT: true,
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

const IN = 24;
const OUT = 20;

/** max |a − b| ≤ tol · max |b| (relative to the reference's scale), element-wise over the whole tensor. */
function expectRelClose(a: tf.Tensor, b: tf.Tensor, what: string, tol = 1e-5): void {
  expect(a.shape, what).toEqual(b.shape);
  const av = a.dataSync();
  const bv = b.dataSync();
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < av.length; i++) {
    diff = Math.max(diff, Math.abs(av[i] - bv[i]));
    scale = Math.max(scale, Math.abs(bv[i]));
  }
  expect(scale, `${what}: reference is all zero`).toBeGreaterThan(0);
  expect(diff / scale, `${what}: max diff ${diff} vs scale ${scale}`).toBeLessThanOrEqual(tol);
}

/** Variables of one case (non-zero factors) and a function from kernel name to (loss, grads). */
function setup(c: Case) {
  const N = N_OF(c);
  const r = c.rank;
  const E = c.experts;
  const seed = c.name;
  const v = (shape: number[], s: string, std = 0.5) => tf.variable(seededNormal(shape, `${seed}:${s}`, std));
  const x = v([N, IN], 'x', 1);
  const w0 = tf.variable(seededNormal([IN, OUT], `${seed}:w0`, 0.3), false);
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
  const w0T = tf.transpose(w0) as tf.Tensor2D;
  const dropMask = tf.tensor2d(
    Array.from({ length: N * IN }, (_, i) => ((i * 7) % 5 === 0 ? 0 : 1.25)),
    [N, IN],
  );
  const watched = [x, stepA, stepB, sharedA, sharedB, router?.weight].filter(
    (t): t is tf.Variable => t !== null && t !== undefined,
  );
  const scale = 2; // LoRA scaling folded into the coefficients
  const run = (kernel: (typeof MIX_KERNELS)[number]) =>
    tf.variableGrads(() => {
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
        w0T: c.baseT ? () => w0T : undefined,
      };
      const y = MIX_KERNEL_IMPLS[kernel].mix(input);
      return tf.sum(tf.mul(y, probe)) as tf.Scalar;
    }, watched);
  const forward = (kernel: (typeof MIX_KERNELS)[number]) =>
    tf.tidy(() => {
      const routing: Routing = router
        ? router.route(x as tf.Tensor2D, undefined)
        : route
          ? { kind: 'step', route }
          : { kind: 'none' };
      return MIX_KERNEL_IMPLS[kernel].mix({
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
        w0T: c.baseT ? () => w0T : undefined,
      });
    });
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
  const dispose = () => {
    tf.dispose([x, w0, w0T, probe, dropMask, ...watched]);
    router?.dispose();
    route?.dispose();
  };
  return { run, forward, names, dispose };
}

describe('kernel choice', () => {
  it("'auto' picks the measured kernel for step routing and dense for a learned gate", () => {
    expect(mixKernel('auto').name).toBe(AUTO_KERNEL[tf.getBackend()]);
    expect(mixKernel('auto', 'topk').name).toBe('dense');
    expect(mixKernel('reference', 'topk').name).toBe('reference');
  });
});

describe.each(['wasm', 'cpu'])('mixing kernels on %s', (backend) => {
  describe.each(CASES)('$name', (c) => {
    it.each(MIX_KERNELS.filter((k) => k !== 'reference'))(
      '%s equals reference (forward and gradients)',
      async (kernel) => {
        await onBackend(backend, () => {
          const s = setup(c);
          try {
            const yRef = s.forward('reference');
            const y = s.forward(kernel);
            expectRelClose(y, yRef, 'forward');
            tf.dispose([y, yRef]);
            const ref = s.run('reference');
            const got = s.run(kernel);
            for (const [name, g] of Object.entries(ref.grads)) {
              const what = `d${s.names.get(name)}`;
              if (
                what === 'dgate' &&
                typeof c.routing === 'object' &&
                !Array.isArray(c.routing) &&
                c.routing.topK === 1
              ) {
                // one expert per token: its renormalised weight is exactly 1, so the gate gets no task gradient
                for (const t of [g, got.grads[name]])
                  expect(tf.max(tf.abs(t)).dataSync()[0]).toBeLessThan(1e-5);
              } else expectRelClose(got.grads[name], g, what);
            }
            tf.dispose([ref.value, got.value, ...Object.values(ref.grads), ...Object.values(got.grads)]);
          } finally {
            s.dispose();
          }
        });
      },
    );
  });
});
