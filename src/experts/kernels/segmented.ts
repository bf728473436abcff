// Segmented mixing (Punica SGMV semantics): tokens grouped by expert, one pair of 2-D matmuls per group. This
// MixKernel picks the segment plan for the layer's routing and calls the custom op, whose body and hand-written
// backward are in src/backend/kernels/segmented-mix.ts; on webgpu, step routing and a single LoRA run the WGSL
// programs instead (sgmv.ts), unless calibration measured the tf ops faster on this device (choice.ts).
import * as tf from '@tensorflow/tfjs';
import { syncReadsWork } from '../../backend/kernels/backends.js';
import { type SegmentedMixInputs, segmentedMix } from '../../backend/kernels/segmented-mix.js';
import { denseKernel } from './dense.js';
import { planFromStepIds, type SegmentPlan } from './plan.js';
import { mixSgmv, useSgmv } from './sgmv.js';
import type { MixInput, MixKernel } from './types.js';

/** Plans of routing without routed experts: every token in one shared-only segment (cached per N). */
const sharedOnlyPlans = new Map<number, SegmentPlan>();
function sharedOnlyPlan(N: number): SegmentPlan {
  let p = sharedOnlyPlans.get(N);
  if (!p) sharedOnlyPlans.set(N, (p = planFromStepIds(new Int32Array(N).fill(-1), 0, true)));
  return p;
}

export const segmentedKernel: MixKernel = {
  name: 'segmented',
  mix(m: MixInput): tf.Tensor2D {
    const N = m.x.shape[0];
    const { routing } = m;
    // a top-k plan reads the gate's choices back synchronously, which webgpu cannot do: mix densely (same values)
    if (routing.kind === 'topk' && !syncReadsWork()) return denseKernel.mix(m);
    const useStep = m.stepA !== null && m.stepB !== null && routing.kind !== 'none';
    const plan =
      routing.kind === 'step'
        ? routing.route.plan(m.sharedA !== null, N)
        : routing.kind === 'topk'
          ? routing.plan()
          : sharedOnlyPlan(N);
    if (useSgmv(m)) return mixSgmv(m, routing.kind === 'step' ? plan : null);
    const inputs: SegmentedMixInputs = { x: m.x, w0: m.w0 };
    if (useStep) Object.assign(inputs, { stepA: m.stepA!, stepB: m.stepB! });
    if (m.sharedA && m.sharedB) Object.assign(inputs, { sharedA: m.sharedA, sharedB: m.sharedB });
    if (m.xl !== m.x) inputs.xl = m.xl;
    if (routing.kind === 'topk') inputs.weights = routing.weights;
    if (tf.getBackend() !== 'wasm') {
      // device index tensors, built in the caller's scope so that every layer of this forward reuses them
      plan.rowsTensor();
      plan.inverseTensor();
    }
    return segmentedMix(inputs, {
      plan,
      rank: m.rank,
      numExperts: m.numExperts,
      stepCoef: m.stepCoef,
      sharedCoef: m.sharedCoef,
    });
  },
};
