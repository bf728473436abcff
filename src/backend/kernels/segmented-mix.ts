// The segmented mixing of experts (Punica SGMV semantics) as ONE custom op with a hand-written backward; its
// caller is src/experts/kernels/segmented.ts. The base GEMM runs once over all tokens; tokens are grouped by expert
// (experts/kernels/plan.ts) and each group takes one pair of 2-D matmuls through [A_sh | A_e] and [B_sh; B_e], so
// the shared and the step expert of a token cost one rank-2r product. The op is registered for every backend with a
// body of ordinary tf ops (the engine tapes only the outer kernel); its gradient gives x, the adapter input, the A/B
// factors and the routing weights, never dW0. On wasm the backward transposes explicitly (matmul-bt.ts); rows and
// factor blocks move inside the heap (segmented-rows.ts).
import * as tf from '@tensorflow/tfjs';
import type { Segment, SegmentPlan } from '../../experts/kernels/plan.js';
import { KERNEL_BACKENDS } from './backends.js';
import { matMulBT } from './matmul-bt.js';
import { runKernel } from './run.js';
import {
  gatherRowsAt,
  gatherSegment,
  gatherSegmentT,
  scatterRowsAt,
  scatterSegments,
  stackBlocks,
} from './segmented-rows.js';
import type { KernelSet } from './types.js';
import { weightMatMul, weightMatMulT } from './weight-matmul.js';

export const MOTE_SEGMENTED_MIX = 'MoteSegmentedMix';

const onWasm = () => tf.getBackend() === 'wasm';

/** The op's inputs: the layer's, with the factors it has. */
export interface SegmentedMixInputs {
  x: tf.Tensor2D;
  w0: tf.Tensor2D;
  stepA?: tf.Tensor2D;
  stepB?: tf.Tensor2D;
  sharedA?: tf.Tensor2D;
  sharedB?: tf.Tensor2D;
  /** Adapter input when it differs from x (dropout). */
  xl?: tf.Tensor2D;
  /** Routing weights (N, E) of a learned gate. */
  weights?: tf.Tensor2D;
}

/** Gradient closures by input name (tfjs's NamedGradientMap, which it does not export). */
type GradientMap = Record<string, () => tf.Tensor>;

/** The op's attributes. */
export interface SegmentedMixAttrs {
  plan: SegmentPlan;
  /** Names of the op's inputs, which are passed as an array (as AddN does) so that `saveAllInputs` works. */
  names: (keyof SegmentedMixInputs)[];
  rank: number;
  numExperts: number;
  stepCoef: number;
  sharedCoef: number;
}

/** The factors and coefficients of each segment: [A_sh | A_e] (in, r′), [B_sh; B_e] (r′, out), per-row scales. */
class SegmentFactors {
  private readonly cache = new Map<string, tf.Tensor2D>();
  constructor(
    private readonly inp: SegmentedMixInputs,
    private readonly at: SegmentedMixAttrs,
  ) {}

  /** Whether the segment uses the shared block (pass 0 only) and a step block. */
  layout(seg: Segment): { shared: boolean; step: boolean } {
    return { shared: seg.pass === 0 && this.inp.sharedA !== undefined, step: seg.expert >= 0 };
  }

  /** r′: the segment's stacked rank. */
  width(seg: Segment): number {
    const l = this.layout(seg);
    return ((l.shared ? 1 : 0) + (l.step ? 1 : 0)) * this.at.rank;
  }

  private blocksA: tf.Tensor2D[] | null = null;
  private blocksB: tf.Tensor2D[] | null = null;

  /** Expert e's A (in, r) and B (r, out), split off the stacked factors once per call. */
  private stepBlocks(e: number): [tf.Tensor2D, tf.Tensor2D] {
    const E = this.at.numExperts;
    this.blocksA ??= E > 1 ? tf.split(this.inp.stepA!, E, 1) : [this.inp.stepA!]; // E × (in, r)
    this.blocksB ??= E > 1 ? tf.split(this.inp.stepB!, E, 0) : [this.inp.stepB!]; // E × (r, out)
    return [this.blocksA[e], this.blocksB[e]];
  }

  private memo(key: string, build: () => tf.Tensor2D): tf.Tensor2D {
    let t = this.cache.get(key);
    if (!t) this.cache.set(key, (t = build()));
    return t;
  }

  /** (in, r′) */
  A(seg: Segment): tf.Tensor2D {
    return this.factor(seg, 'A', 1);
  }

  /** (r′, out) */
  B(seg: Segment): tf.Tensor2D {
    return this.factor(seg, 'B', 0);
  }

  /** [F_sh | F_e] (A, along columns) or [F_sh; F_e] (B, along rows) of a segment: one kernel call on wasm. */
  private factor(seg: Segment, F: 'A' | 'B', axis: 0 | 1): tf.Tensor2D {
    const { shared, step } = this.layout(seg);
    const [sharedF, stepF] =
      F === 'A' ? [this.inp.sharedA, this.inp.stepA] : [this.inp.sharedB, this.inp.stepB];
    return this.memo(`${F}${seg.expert}:${shared}`, () => {
      const r = this.at.rank;
      if (onWasm()) {
        const inputs = [...(shared ? [sharedF!] : []), ...(step ? [stepF!] : [])];
        const blocks = inputs.map((_, i) => ({
          size: r,
          pieces: [[i, inputs[i] === stepF ? seg.expert * r : 0] as const],
        }));
        return stackBlocks(inputs, axis, blocks); // (in, r′) or (r′, out)
      }
      const parts = [
        ...(shared ? [sharedF!] : []),
        ...(step ? [this.stepBlocks(seg.expert)[F === 'A' ? 0 : 1]] : []),
      ];
      return parts.length > 1 ? tf.concat(parts, axis) : parts[0];
    });
  }

  /** Row (1, r′) of constant block scales, or (n, r′) when a learned gate weighs the step block per token. */
  coef(seg: Segment): tf.Tensor2D {
    const { shared, step } = this.layout(seg);
    const { rank: r, stepCoef, sharedCoef } = this.at;
    const w = this.inp.weights;
    if (!(w && step)) {
      return this.memo(`c${shared}:${step}`, () => {
        const row = [...(shared ? Array(r).fill(sharedCoef) : []), ...(step ? Array(r).fill(stepCoef) : [])];
        return tf.tensor2d(row, [1, row.length]);
      });
    }
    return this.memo(`c${seg.pass}:${seg.expert}`, () => {
      const n = seg.rows.length;
      const wR = gatherRowsAt(tf.reshape(w, [-1, 1]), weightRows(seg, this.at.numExperts)); // (n, 1)
      const stepScale = tf.mul(wR, tf.fill([1, r], stepCoef)) as tf.Tensor2D; // (n, r)
      return shared ? tf.concat([tf.fill([n, r], sharedCoef), stepScale], 1) : stepScale; // (n, r′)
    });
  }

  /** (1, r′) mask of the step block scaled by stepCoef (for the routing-weight gradient). */
  stepMask(seg: Segment): tf.Tensor2D {
    const { shared } = this.layout(seg);
    const r = this.at.rank;
    return this.memo(`m${shared}`, () => {
      const row = [...(shared ? Array(r).fill(0) : []), ...Array(r).fill(this.at.stepCoef)];
      return tf.tensor2d(row, [1, row.length]);
    });
  }
}

/** The op's positional inputs by name. */
function named(list: readonly tf.Tensor[], at: SegmentedMixAttrs): SegmentedMixInputs {
  return Object.fromEntries(at.names.map((n, i) => [n, list[i]])) as unknown as SegmentedMixInputs;
}

/** Flat indices t·E + e of a segment's entries in the (N, E) routing weights. */
function weightRows(seg: Segment, E: number): Int32Array {
  return seg.rows.map((t) => t * E + seg.expert);
}

/** Forward: y = x·W0 + Σ_segments scatter(((x̃_R·A_R) ⊙ coef)·B_R); also returns the flat hidden x̃_R·A_R. */
function forward(inp: SegmentedMixInputs, at: SegmentedMixAttrs): [tf.Tensor2D, tf.Tensor1D] {
  return tf.tidy(() => {
    const { plan } = at;
    const lx = inp.xl ?? inp.x;
    const f = new SegmentFactors(inp, at);
    let y: tf.Tensor = weightMatMul(inp.x, inp.w0); // (N, in)·(in, out) → (N, out), W0 in its one copy
    const hidden: tf.Tensor1D[] = [];
    for (let p = 0; p < plan.numPasses; p++) {
      const segs = plan.pass(p);
      if (segs.length === 0) continue;
      const parts = segs.map((seg): tf.Tensor2D => {
        const h = tf.matMul(gatherSegment(lx, seg, plan), f.A(seg)); // (n, in)·(in, r′) → (n, r′)
        hidden.push(tf.reshape(h, [-1]));
        return tf.matMul(tf.mul(h, f.coef(seg)) as tf.Tensor2D, f.B(seg)); // (n, r′)·(r′, out) → (n, out)
      });
      y = tf.add(y, scatterSegments(parts, segs, plan)); // (N, out)
    }
    return [y as tf.Tensor2D, (hidden.length > 0 ? tf.concat(hidden) : tf.zeros([0])) as tf.Tensor1D];
  });
}

/** Sum of a list, or zeros of `shape` when empty. */
const sumOr = (ts: tf.Tensor[], shape: number[]) =>
  ts.length === 0 ? tf.zeros(shape) : ts.length === 1 ? ts[0] : tf.addN(ts);

/** Backward. The rank-r′ work per segment runs now; the (N, in)-sized products run only if their input is watched. */
function backward(dys: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], at: SegmentedMixAttrs): GradientMap {
  const dy = (Array.isArray(dys) ? dys[0] : dys) as tf.Tensor2D; // (N, out)
  const inp = named(saved, at);
  const hidden = saved[at.names.length] as tf.Tensor1D;
  const { plan, rank: r, numExperts: E } = at;
  const N = plan.numTokens;
  const [inF, outF] = inp.w0.shape;
  const lx = inp.xl ?? inp.x;
  const f = new SegmentFactors(inp, at);

  // Products over the tokens of a segment, Xᵀ·Y with X tall (n, C) and Y thin (n, r′). On wasm XNNPACK packs
  // the right operand anew for every new tensor, so X goes on the left, transposed (segmented-rows.ts gatherSegmentT).
  const wasm = onWasm();
  const overTokens = (big: tf.Tensor2D, seg: Segment, thin: tf.Tensor2D): tf.Tensor2D => {
    if (wasm) return tf.matMul(gatherSegmentT(big, seg), thin); // (C, n)·(n, r′) → (C, r′)
    return tf.matMul(gatherSegment(big, seg, plan), thin, true, false); // (n, C)ᵀ·(n, r′) → (C, r′)
  };

  let offset = 0;
  const per = plan.segments.map((seg) => {
    const n = seg.rows.length;
    const rr = f.width(seg);
    const h = tf.reshape(tf.slice(hidden, [offset], [n * rr]), [n, rr]) as tf.Tensor2D; // (n, r′)
    offset += n * rr;
    const coef = f.coef(seg);
    const dyR = gatherSegment(dy, seg, plan); // (n, out)
    const dG = matMulBT(dyR, f.B(seg)); // (n, out)·(out, r′) → (n, r′)
    dyR.dispose();
    const dB = tf.transpose(overTokens(dy, seg, tf.mul(h, coef) as tf.Tensor2D)) as tf.Tensor2D; // (r′, out)
    const dH = tf.mul(dG, coef) as tf.Tensor2D; // (n, r′)
    const dA = overTokens(lx, seg, dH); // (in, r′)
    return { seg, h, dG, dH, dA, dB, shared: f.layout(seg).shared };
  });

  /** Gradient through the adapter input, (N, in). */
  const dAdapterInput = (): tf.Tensor2D => {
    const passes: tf.Tensor2D[] = [];
    for (let p = 0; p < plan.numPasses; p++) {
      const segs = per.filter((s) => s.seg.pass === p);
      if (segs.length === 0) continue;
      const parts = segs.map((s) => matMulBT(s.dH, f.A(s.seg))); // (n, r′)·(r′, in) → (n, in)
      passes.push(
        scatterSegments(
          parts,
          segs.map((s) => s.seg),
          plan,
        ),
      );
    }
    return sumOr(passes, [N, inF]) as tf.Tensor2D;
  };
  /** Column block [c0, c0 + r) of (in, r′) or row block of (r′, out). */
  const cols = (t: tf.Tensor2D, c0: number): tf.Tensor2D =>
    c0 === 0 && t.shape[1] === r ? t : tf.slice(t, [0, c0], [-1, r]);
  const rows = (t: tf.Tensor2D, r0: number): tf.Tensor2D =>
    r0 === 0 && t.shape[0] === r ? t : tf.slice(t, [r0, 0], [r, -1]);
  const stepPer = (e: number) => per.filter((s) => s.seg.expert === e);
  const sharedPer = per.filter((s) => s.shared);

  const grads: GradientMap = {
    x: () => {
      const dxBase = weightMatMulT(dy, inp.w0); // (N, out)·W0ᵀ → (N, in), W0 in its one copy
      return inp.xl ? dxBase : tf.add(dxBase, dAdapterInput());
    },
    w0: () => {
      throw new Error(
        `${MOTE_SEGMENTED_MIX} gives no gradient for the base weight W0: freeze it (trainable = false) or use kernel 'dense'`,
      );
    },
  };
  if (inp.xl) grads.xl = dAdapterInput;
  if (wasm && per.length > 0) {
    // each factor's gradient in one kernel call: the r-wide blocks of the segments' dA (columns) and dB (rows),
    // the shared block summed over the segments that carry it, expert e's over its segments (zeros if none)
    const stacked =
      (pick: (s: (typeof per)[number]) => tf.Tensor2D, axis: 0 | 1, experts: number[]) => () => {
        // [segment, first column or row] of expert e's block (−1: the shared block) in each segment that has it
        const pieces = (e: number) =>
          per.flatMap((s, i): (readonly [number, number])[] => {
            if (e < 0) return s.shared ? [[i, 0]] : [];
            return s.seg.expert === e ? [[i, s.shared ? r : 0]] : [];
          });
        return stackBlocks(
          per.map(pick),
          axis,
          experts.map((e) => ({ size: r, pieces: pieces(e) })),
        );
      };
    const steps = Array.from({ length: E }, (_, e) => e);
    if (inp.sharedA) {
      grads.sharedA = stacked((s) => s.dA, 1, [-1]); // (in, r)
      grads.sharedB = stacked((s) => s.dB, 0, [-1]); // (r, out)
    }
    if (inp.stepA) {
      grads.stepA = stacked((s) => s.dA, 1, steps); // (in, E·r)
      grads.stepB = stacked((s) => s.dB, 0, steps); // (E·r, out)
    }
  } else {
    if (inp.sharedA) {
      grads.sharedA = () =>
        sumOr(
          sharedPer.map((s) => cols(s.dA, 0)),
          [inF, r],
        );
      grads.sharedB = () =>
        sumOr(
          sharedPer.map((s) => rows(s.dB, 0)),
          [r, outF],
        );
    }
    if (inp.stepA) {
      const blocks = (pick: (s: (typeof per)[number]) => tf.Tensor, shape: number[], axis: 0 | 1) => () =>
        tf.concat(
          Array.from({ length: E }, (_, e) => sumOr(stepPer(e).map(pick), shape)),
          axis,
        );
      grads.stepA = blocks((s) => cols(s.dA, s.shared ? r : 0), [inF, r], 1); // (in, E·r)
      grads.stepB = blocks((s) => rows(s.dB, s.shared ? r : 0), [r, outF], 0); // (E·r, out)
    }
  }
  if (inp.weights) {
    grads.weights = () => {
      const routed = per.filter((s) => s.seg.expert >= 0);
      const parts = routed.map(
        (s) => tf.sum(tf.mul(tf.mul(s.dG, s.h), f.stepMask(s.seg)), 1, true) as tf.Tensor2D, // (n, 1)
      );
      const dw = scatterRowsAt(
        parts,
        routed.map((s) => weightRows(s.seg, E)),
        N * E,
      ); // (N·E, 1)
      return tf.reshape(dw, [N, E]);
    };
  }
  // positional, like the inputs
  return Object.fromEntries(at.names.map((n, i) => [String(i), grads[n]]).filter(([, g]) => g));
}

export const segmentedMixKernels: KernelSet = {
  kernels: KERNEL_BACKENDS.map((backendName) => ({
    kernelName: MOTE_SEGMENTED_MIX,
    backendName,
    kernelFunc: ({ inputs, attrs }) => {
      const at = attrs as unknown as SegmentedMixAttrs;
      return forward(named(Object.values(inputs) as tf.Tensor[], at), at) as unknown as tf.TensorInfo[];
    },
  })),
  gradients: [
    {
      kernelName: MOTE_SEGMENTED_MIX,
      saveAllInputs: true,
      outputsToSave: [false, true],
      gradFunc: (dy, saved, attrs) => backward(dy, saved, attrs as unknown as SegmentedMixAttrs),
    },
  ],
};

/**
 * y (N, out) of the op for `inputs` (the names present are the op's positional inputs, in this order). On device
 * backends, build the plan's index tensors (rowsTensor, inverseTensor) in the caller's scope first, so that every
 * layer of one forward reuses them.
 */
export function segmentedMix(
  inputs: SegmentedMixInputs,
  attrs: Omit<SegmentedMixAttrs, 'names'>,
): tf.Tensor2D {
  const names = Object.keys(inputs) as (keyof SegmentedMixInputs)[];
  const full: SegmentedMixAttrs = { ...attrs, names };
  const [y] = runKernel<tf.Tensor[]>(
    MOTE_SEGMENTED_MIX,
    names.map((n) => inputs[n]!),
    full,
  );
  return y as tf.Tensor2D;
}
