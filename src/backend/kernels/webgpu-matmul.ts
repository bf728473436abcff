// BatchMatMul on a software WebGPU adapter (SwiftShader, Mesa's lavapipe: WebGPU on the CPU). For products with at
// most 128 outputs tfjs-backend-webgpu 4.22 picks its MatMulReduceProgram: one 256-thread workgroup per output
// element, summed through workgroup memory with a barrier per halving. A software adapter runs workgroup barriers
// by switching between its emulated invocations, which made those tiny products tens of times slower than tfjs's
// small-output tiled program (docs/webgpu.md has the figures), and a MoTE training step is full of them (rank-r
// adapter products, one-token decoding). On such an adapter this kernel asks tfjs for the small-output program
// instead, through tfjs's own WEBGPU_MATMUL_PROGRAM_TYPE flag, set for the one call. Same arithmetic order per
// output is not promised (a different program), but the same products. Hardware adapters keep tfjs's choice.
import * as tf from '@tensorflow/tfjs';
import type { KernelOverride } from './types.js';

/** tfjs-backend-webgpu's MatMulProgramType.MatMulSmallOutputSizeProgram (webgpu_util.ts). */
const SMALL_OUTPUT_PROGRAM = 2;
/** Largest output tfjs sends to MatMulReduceProgram (BatchMatMul_impl.ts). */
const REDUCE_MAX_OUTPUT = 128;
const FLAG = 'WEBGPU_MATMUL_PROGRAM_TYPE';

interface WebgpuBackend {
  adapterInfo?: { vendor?: string; architecture?: string };
}

/** Whether the webgpu backend runs on a software adapter (by the adapter info tfjs keeps). */
export function softwareAdapter(backend: unknown): boolean {
  const info = (backend as WebgpuBackend).adapterInfo;
  return /swiftshader|llvmpipe|lavapipe/i.test(`${info?.vendor ?? ''} ${info?.architecture ?? ''}`);
}

let original: tf.KernelConfig | undefined;

type Args = {
  inputs: { a: tf.TensorInfo; b: tf.TensorInfo };
  backend: unknown;
  attrs: { transposeA: boolean; transposeB: boolean };
};

/** Output elements of the product (batch dims broadcast). */
function outputSize({ inputs: { a, b }, attrs }: Args): number {
  const outer = (s: number[]) => s.slice(0, -2).reduce((n, d) => n * d, 1);
  const m = attrs.transposeA ? a.shape[a.shape.length - 1] : a.shape[a.shape.length - 2];
  const n = attrs.transposeB ? b.shape[b.shape.length - 2] : b.shape[b.shape.length - 1];
  return Math.max(outer(a.shape), outer(b.shape)) * m * n;
}

function batchMatMul(args: Args): tf.TensorInfo {
  const run = original!.kernelFunc as (a: Args) => tf.TensorInfo;
  const env = tf.env();
  if (!softwareAdapter(args.backend) || outputSize(args) > REDUCE_MAX_OUTPUT || env.getNumber(FLAG) >= 0)
    return run(args);
  env.set(FLAG, SMALL_OUTPUT_PROGRAM);
  try {
    return run(args);
  } finally {
    env.set(FLAG, -1);
  }
}

/** The webgpu BatchMatMul, steering the smallest products away from the reduce program on software adapters. */
export const webgpuBatchMatMul: KernelOverride = {
  kernelName: tf.BatchMatMul,
  kernelFunc: batchMatMul as unknown as tf.KernelFunc,
  keep: (k) => {
    original = k;
  },
};
