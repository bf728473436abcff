// The segmented kernel on webgpu through its WGSL programs (src/backend/kernels/webgpu-sgmv.ts): the routing of a
// segment plan as device tables, and when they apply. Step routing and a single LoRA only; a learned top-k gate (and
// every other backend) keeps the tf-ops op (segmented-mix.ts), which is also the reference the programs are tested
// against.
import * as tf from '@tensorflow/tfjs';
import {
  MOTE_SGMV_MIX,
  type SgmvInputs,
  type SgmvTables,
  sgmvMix,
} from '../../backend/kernels/webgpu-sgmv.js';
import { activeChoice } from './choice.js';
import type { SegmentPlan } from './plan.js';
import type { MixInput } from './types.js';

/** Whether the active backend runs the WGSL programs: webgpu, with the library's kernels registered. */
export function sgmvRegistered(): boolean {
  return tf.getBackend() === 'webgpu' && tf.getKernel(MOTE_SGMV_MIX, 'webgpu') !== undefined;
}

/** Whether the WGSL programs can run this mixing: registered, and step routing or a single LoRA. */
export function sgmvAvailable(m: Pick<MixInput, 'routing' | 'stepA' | 'sharedA'>): boolean {
  return (
    sgmvRegistered() &&
    m.routing.kind !== 'topk' &&
    ((m.stepA !== null && m.routing.kind === 'step') || m.sharedA !== null)
  );
}

/** Whether the segmented kernel should run the WGSL programs: available, and not measured slower than tf ops. */
export function useSgmv(m: MixInput): boolean {
  return sgmvAvailable(m) && (activeChoice()?.segmented ?? 'wgsl') === 'wgsl';
}

/**
 * The plan's routing as the programs' tables (cached on the plan): each token's step expert in pass 0 (−1: none),
 * the rows sorted by expert (at least one entry: a WebGPU binding cannot be empty), and [first, count] per expert.
 */
export function sgmvTables(plan: SegmentPlan, numExperts: number): SgmvTables {
  const host = () => {
    const tokExp = new Int32Array(plan.numTokens).fill(-1);
    const ranges = new Int32Array(Math.max(2 * numExperts, 1));
    for (const seg of plan.pass(0)) {
      if (seg.expert < 0) continue;
      for (const t of seg.rows) tokExp[t] = seg.expert;
      ranges[2 * seg.expert] = seg.offset;
      ranges[2 * seg.expert + 1] = seg.rows.length;
    }
    return { tokExp, ranges, rows: plan.rows.length > 0 ? plan.rows : new Int32Array(1) };
  };
  let h: ReturnType<typeof host> | undefined;
  const table = (key: 'tokExp' | 'ranges' | 'rows') =>
    plan.deviceTable(`sgmv:${numExperts}:${key}`, () => tf.tensor1d((h ??= host())[key], 'int32'));
  return { tokExp: table('tokExp'), ranges: table('ranges'), rows: table('rows') };
}

/** y (N, out) of `m` through the programs; `plan` is the step route's (needed with step experts). */
export function mixSgmv(m: MixInput, plan: SegmentPlan | null): tf.Tensor2D {
  const step = m.stepA !== null && m.stepB !== null && m.routing.kind === 'step';
  const inputs: SgmvInputs = { x: m.x, w0: m.w0 };
  if (step) Object.assign(inputs, { stepA: m.stepA!, stepB: m.stepB! });
  if (m.sharedA && m.sharedB) Object.assign(inputs, { sharedA: m.sharedA, sharedB: m.sharedB });
  if (m.xl !== m.x) inputs.xl = m.xl;
  return sgmvMix(inputs, {
    rank: m.rank,
    numExperts: step ? m.numExperts : 0,
    stepCoef: m.stepCoef,
    sharedCoef: m.sharedCoef,
    tables: step && plan ? () => sgmvTables(plan, m.numExperts) : undefined,
  });
}
