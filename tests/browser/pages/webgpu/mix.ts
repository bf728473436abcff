// The mixing kernels on webgpu over the unit tests' case table (tests/unit/experts/mix-cases.ts): forward and every
// gradient of the reference loop, dense, segmented through tf ops and segmented through the WGSL programs, each
// against the reference kernel on cpu and (for the WGSL programs' own check) against the reference on webgpu.
import * as tf from '@tensorflow/tfjs';
import type { MixKernelName } from '../../../../src/experts/config.js';
import { type SegmentedImpl, withMixChoice } from '../../../../src/experts/kernels/choice.js';
import { MIX_CASES, type MixCase, setupMixCase } from '../../../unit/experts/mix-cases.js';
import { compare, type Results, useBackend } from './compare.js';
import type { MixReport } from './types.js';

const VARIANTS: [string, MixKernelName, SegmentedImpl][] = [
  ['reference', 'reference', 'ops'],
  ['dense', 'dense', 'ops'],
  ['segmented/ops', 'segmented', 'ops'],
  ['segmented/wgsl', 'segmented', 'wgsl'],
];

/** Counts runs of the WGSL op: its kernel wrapped once (the page calls this after registerKernels). */
export const wgslCalls = { count: 0 };
export function countWgslCalls(): void {
  const k = tf.getKernel('MoteSgmvMix', 'webgpu');
  if (!k) throw new Error('MoteSgmvMix is not registered for webgpu (registerKernels)');
  tf.unregisterKernel(k.kernelName, 'webgpu');
  tf.registerKernel({
    ...k,
    kernelFunc: (args) => {
      wgslCalls.count++;
      return k.kernelFunc(args);
    },
  });
}

/** y and every gradient of a case through one kernel, on the active backend. */
async function caseValues(c: MixCase, kernel: MixKernelName, impl: SegmentedImpl): Promise<Results> {
  const s = setupMixCase(c);
  const choice = { kernel, segmented: impl };
  try {
    const y = withMixChoice(choice, () => s.forward(kernel));
    const { value, grads } = withMixChoice(choice, () => s.run(kernel));
    const out: Results = { y: await y.data() };
    for (const [name, g] of Object.entries(grads)) out[`d${s.names.get(name)}`] = await g.data();
    tf.dispose([y, value, ...Object.values(grads)]);
    return out;
  } finally {
    s.dispose();
  }
}

export async function mixCheck(params: { only?: string } = {}): Promise<MixReport> {
  const t0 = performance.now();
  const report: MixReport = { comparisons: [], wgslRan: {}, leaked: 0, ms: 0 };
  for (const c of MIX_CASES.filter((m) => !params.only || m.name.includes(params.only))) {
    await useBackend('cpu');
    const cpu = await caseValues(c, 'reference', 'ops');
    await useBackend('webgpu');
    const before = tf.memory().numTensors;
    let gpuReference: Results | undefined;
    for (const [label, kernel, impl] of VARIANTS) {
      const calls = wgslCalls.count;
      const got = await caseValues(c, kernel, impl);
      if (label === 'reference') gpuReference = got;
      if (label === 'segmented/wgsl') {
        report.wgslRan[c.name] = wgslCalls.count > calls;
        report.comparisons.push(
          ...compare(got, gpuReference!, `${c.name} / ${label} vs webgpu reference / `),
        );
      }
      report.comparisons.push(...compare(got, cpu, `${c.name} / ${label} / `));
    }
    report.leaked += tf.memory().numTensors - before;
  }
  report.ms = performance.now() - t0;
  return report;
}
