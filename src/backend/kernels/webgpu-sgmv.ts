// The segmented LoRA mixing as WGSL programs on the webgpu backend (the programs: webgpu-sgmv-wgsl.ts): one op with
// a hand-written backward, like MoteSegmentedMix (segmented-mix.ts), which stays the reference and the fallback. The
// forward is the base GEMM (tfjs's matmul) and two dispatches for all the experts: shrink H = x̃·[A_sh | A_{e_t}] per
// token, then expand y = x·W0 + sharedCoef·H_sh·B_sh + stepCoef·H_st·B_{e_t}. The backward is one shrink
// (dH = coef ⊙ dy·[B_sh | B_e]ᵀ), one expand for the adapter input (dx̃ = dH·[A_sh | A_e]ᵀ, added to dy·W0ᵀ when
// x̃ is x) and one reduction per factor, over the segments of each expert (dA = x̃ᵀ·dH, dB = coef·Hᵀ·dy). No rows are
// gathered or scattered between dispatches. Step routing (one expert per token) and a single LoRA only: a learned
// top-k gate (per-token weights, k passes) stays on MoteSegmentedMix.
import * as tf from '@tensorflow/tfjs';
import { runKernel } from './run.js';
import type { KernelSet } from './types.js';
import {
  type Blocks,
  expandProgram,
  reduceProgram,
  shrinkProgram,
  type WgslProgram,
} from './webgpu-sgmv-wgsl.js';

export const MOTE_SGMV_MIX = 'MoteSgmvMix';
const SHRINK = 'MoteSgmvShrink';
const EXPAND = 'MoteSgmvExpand';
const REDUCE = 'MoteSgmvReduce';

/** The op's tensor inputs, those the layer has. */
export interface SgmvInputs {
  x: tf.Tensor2D;
  w0: tf.Tensor2D;
  stepA?: tf.Tensor2D;
  stepB?: tf.Tensor2D;
  sharedA?: tf.Tensor2D;
  sharedB?: tf.Tensor2D;
  /** Adapter input when it differs from x (dropout). */
  xl?: tf.Tensor2D;
}

/**
 * The routing as device tables (int32), built once per plan by the caller (experts/kernels/sgmv.ts): the step expert
 * of every token (N), the token rows sorted by expert (at least one entry), and [first, count] of each expert's run
 * of rows (2·E). Needed when there are step experts.
 */
export interface SgmvTables {
  tokExp: tf.Tensor1D;
  rows: tf.Tensor1D;
  ranges: tf.Tensor1D;
}

/** The op's attributes. */
export interface SgmvAttrs {
  /** Names of the positional inputs (passed as an array, as AddN's are, so that `saveAllInputs` works). */
  names: (keyof SgmvInputs)[];
  rank: number;
  numExperts: number;
  stepCoef: number;
  sharedCoef: number;
  /**
   * The routing tables, fetched again by the backward: tensors made during the forward are disposed when it ends
   * (the engine keeps only the op's saved inputs and outputs), so the plan rebuilds them there.
   */
  tables?: () => SgmvTables;
}

/** The slice of tfjs-backend-webgpu's WebGPUBackend used here. */
interface WebgpuBackend {
  runWebGPUProgram(
    program: WgslProgram,
    inputs: tf.TensorInfo[],
    dtype: tf.DataType,
    uniforms: { type: 'int32' | 'float32'; data: number[] }[],
  ): tf.TensorInfo;
}

interface BlockAttrs {
  r: number;
  sSh: number;
  sSt: number;
  transposed: boolean;
}

/** The names present among `names`, as the program's input list. */
const present = (inputs: tf.NamedTensorInfoMap, names: string[]) =>
  names.filter((n) => inputs[n] !== undefined).map((n) => inputs[n] as tf.TensorInfo);

function blocksOf(inputs: tf.NamedTensorInfoMap): Blocks {
  return { shared: inputs.wsh !== undefined, step: inputs.wst !== undefined };
}

function blockUniforms(blocks: Blocks, a: BlockAttrs) {
  return [
    { type: 'int32' as const, data: [a.r] },
    { type: 'int32' as const, data: [blocks.shared ? a.r : 0] },
    { type: 'float32' as const, data: [a.sSh] },
    { type: 'float32' as const, data: [a.sSt] },
  ];
}

const helperKernels: tf.KernelConfig[] = [
  {
    kernelName: SHRINK,
    backendName: 'webgpu',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const a = attrs as unknown as BlockAttrs;
      const blocks = blocksOf(inputs);
      const N = (inputs.src as tf.TensorInfo).shape[0];
      const rOut = ((blocks.shared ? 1 : 0) + (blocks.step ? 1 : 0)) * a.r;
      const program = shrinkProgram(N, rOut, blocks, a.transposed);
      const ins = present(inputs, ['src', 'wsh', 'wst', 'tokExp']);
      return (backend as WebgpuBackend).runWebGPUProgram(program, ins, 'float32', blockUniforms(blocks, a));
    },
  },
  {
    kernelName: EXPAND,
    backendName: 'webgpu',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const a = attrs as unknown as BlockAttrs & { C: number };
      const blocks = blocksOf(inputs);
      const N = (inputs.h as tf.TensorInfo).shape[0];
      const program = expandProgram(N, a.C, blocks, a.transposed, inputs.base !== undefined);
      const ins = present(inputs, ['base', 'h', 'wsh', 'wst', 'tokExp']);
      return (backend as WebgpuBackend).runWebGPUProgram(program, ins, 'float32', blockUniforms(blocks, a));
    },
  },
  {
    kernelName: REDUCE,
    backendName: 'webgpu',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const a = attrs as unknown as {
        r: number;
        qOff: number;
        scale: number;
        blocks: number;
        layout: 'cols' | 'rows';
      };
      const segmented = inputs.rows !== undefined;
      const C = (inputs.p as tf.TensorInfo).shape[1];
      const program = reduceProgram(C, a.blocks, a.r, a.layout, segmented);
      const ins = present(inputs, ['p', 'q', 'rows', 'ranges']);
      return (backend as WebgpuBackend).runWebGPUProgram(program, ins, 'float32', [
        { type: 'int32', data: [a.r] },
        { type: 'int32', data: [a.qOff] },
        { type: 'float32', data: [a.scale] },
      ]);
    },
  },
];

/** Drops absent entries, so that a program is given only the inputs it binds. */
function defined(m: Record<string, tf.Tensor | undefined>): tf.NamedTensorMap {
  return Object.fromEntries(Object.entries(m).filter(([, t]) => t !== undefined)) as tf.NamedTensorMap;
}

/** H (N, r′): per token, scale · src·W over the blocks given (webgpu). */
function shrink(
  src: tf.Tensor2D,
  wsh: tf.Tensor2D | undefined,
  wst: tf.Tensor2D | undefined,
  tokExp: tf.Tensor1D | undefined,
  a: BlockAttrs,
): tf.Tensor2D {
  return runKernel(SHRINK, defined({ src, wsh, wst, tokExp: wst ? tokExp : undefined }), a);
}

/** (N, C): base + Σ_blk scale · H_blk·W_blk (webgpu). */
function expand(
  base: tf.Tensor2D | undefined,
  h: tf.Tensor2D,
  wsh: tf.Tensor2D | undefined,
  wst: tf.Tensor2D | undefined,
  tokExp: tf.Tensor1D | undefined,
  a: BlockAttrs & { C: number },
): tf.Tensor2D {
  return runKernel(EXPAND, defined({ base, h, wsh, wst, tokExp: wst ? tokExp : undefined }), a);
}

/** A factor gradient over the shared expert's tokens (all) or each step expert's segment (with `tables`). */
function reduce(
  p: tf.Tensor2D,
  q: tf.Tensor2D,
  tables: SgmvTables | undefined,
  a: { r: number; qOff: number; scale: number; blocks: number; layout: 'cols' | 'rows' },
): tf.Tensor2D {
  return runKernel(REDUCE, defined({ p, q, rows: tables?.rows, ranges: tables?.ranges }), a);
}

function named(list: readonly tf.Tensor[], at: SgmvAttrs): SgmvInputs {
  return Object.fromEntries(at.names.map((n, i) => [n, list[i]])) as unknown as SgmvInputs;
}

/** Forward: [y (N, out), H (N, r′)]. */
function forward(inp: SgmvInputs, at: SgmvAttrs): [tf.Tensor2D, tf.Tensor2D] {
  return tf.tidy(() => {
    const { rank: r } = at;
    const tables = at.tables?.();
    const base = tf.matMul(inp.x, inp.w0) as tf.Tensor2D; // (N, in)·(in, out) → (N, out)
    const H = shrink(inp.xl ?? inp.x, inp.sharedA, inp.stepA, tables?.tokExp, {
      r,
      sSh: 1,
      sSt: 1,
      transposed: false,
    }); // (N, r′)
    const y = expand(base, H, inp.sharedB, inp.stepB, tables?.tokExp, {
      r,
      sSh: at.sharedCoef,
      sSt: at.stepCoef,
      transposed: false,
      C: inp.w0.shape[1],
    }); // (N, out)
    return [y, H];
  });
}

type GradientMap = Record<string, () => tf.Tensor>;

function backward(dys: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], at: SgmvAttrs): GradientMap {
  const dy = (Array.isArray(dys) ? dys[0] : dys) as tf.Tensor2D; // (N, out)
  const inp = named(saved, at);
  const H = saved[at.names.length] as tf.Tensor2D; // (N, r′)
  const { rank: r, numExperts: E, stepCoef, sharedCoef } = at;
  const tables = at.tables?.();
  const rSh = inp.sharedA ? r : 0;
  const lx = inp.xl ?? inp.x;
  const inF = inp.w0.shape[0];
  // dH = coef ⊙ dy·[B_sh | B_e]ᵀ (N, r′), needed by every gradient but B's: made now, in the backward's scope (each
  // gradient closure runs in a tidy of its own, which would dispose a tensor shared between them)
  const dH = shrink(dy, inp.sharedB, inp.stepB, tables?.tokExp, {
    r,
    sSh: sharedCoef,
    sSt: stepCoef,
    transposed: true,
  });
  const dAdapter = (base?: tf.Tensor2D) =>
    expand(base, dH, inp.sharedA, inp.stepA, tables?.tokExp, { r, sSh: 1, sSt: 1, transposed: true, C: inF });
  const grads: GradientMap = {
    x: () => {
      const dxBase = tf.matMul(dy, inp.w0, false, true) as tf.Tensor2D; // (N, out)·(out, in) → (N, in)
      return inp.xl ? dxBase : dAdapter(dxBase);
    },
    w0: () => {
      throw new Error(
        `${MOTE_SGMV_MIX} gives no gradient for the base weight W0: freeze it (trainable = false) or use kernel 'dense'`,
      );
    },
  };
  if (inp.xl) grads.xl = () => dAdapter();
  if (inp.sharedA) {
    grads.sharedA = () => reduce(lx, dH, undefined, { r, qOff: 0, scale: 1, blocks: 1, layout: 'cols' }); // (in, r)
    grads.sharedB = () =>
      reduce(dy, H, undefined, { r, qOff: 0, scale: sharedCoef, blocks: 1, layout: 'rows' }); // (r, out)
  }
  if (inp.stepA) {
    grads.stepA = () => reduce(lx, dH, tables, { r, qOff: rSh, scale: 1, blocks: E, layout: 'cols' }); // (in, E·r)
    grads.stepB = () => reduce(dy, H, tables, { r, qOff: rSh, scale: stepCoef, blocks: E, layout: 'rows' }); // (E·r, out)
  }
  return Object.fromEntries(at.names.map((n, i) => [String(i), grads[n]]).filter(([, g]) => g));
}

export const sgmvKernels: KernelSet = {
  kernels: [
    ...helperKernels,
    {
      kernelName: MOTE_SGMV_MIX,
      backendName: 'webgpu',
      kernelFunc: ({ inputs, attrs }) => {
        const at = attrs as unknown as SgmvAttrs;
        return forward(named(Object.values(inputs) as tf.Tensor[], at), at) as unknown as tf.TensorInfo[];
      },
    },
  ],
  gradients: [
    {
      kernelName: MOTE_SGMV_MIX,
      saveAllInputs: true,
      outputsToSave: [false, true],
      gradFunc: (dy, saved, attrs) => backward(dy, saved, attrs as unknown as SgmvAttrs),
    },
  ],
};

/**
 * y (N, out) through the WGSL programs (webgpu only; KernelNotRegisteredError elsewhere). `tables` are needed when
 * there are step experts; with none, only the shared expert (a single LoRA) is applied.
 */
export function sgmvMix(inputs: SgmvInputs, attrs: Omit<SgmvAttrs, 'names'>): tf.Tensor2D {
  if (!inputs.sharedA && !inputs.stepA) throw new Error(`${MOTE_SGMV_MIX}: no adapter factors given`);
  if (inputs.stepA && !attrs.tables)
    throw new Error(`${MOTE_SGMV_MIX}: step experts need the routing tables`);
  const names = (Object.keys(inputs) as (keyof SgmvInputs)[]).filter((n) => inputs[n] !== undefined);
  const [y] = runKernel<tf.Tensor[]>(
    MOTE_SGMV_MIX,
    names.map((n) => inputs[n]!),
    { ...attrs, names },
  );
  return y as tf.Tensor2D;
}
