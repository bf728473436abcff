// The mixing benchmark in the page (src/bench/mix-impls.ts, as `mote bench --only mix-impls` runs it) and the
// calibration that makes 'auto' on this device, with what 'auto' then picks.
import { benchMixImpls } from '../../../../src/bench/mix-impls.js';
import { calibrateMixKernel } from '../../../../src/experts/kernels/calibrate.js';
import { forgetCalibrations } from '../../../../src/experts/kernels/choice.js';
import { mixKernel } from '../../../../src/experts/kernels/index.js';
import { useSgmv } from '../../../../src/experts/kernels/sgmv.js';
import type { MixInput } from '../../../../src/experts/kernels/types.js';
import { webgpuAdapterInfo } from '../webgpu.js';
import { useBackend } from './compare.js';
import type { BenchReport } from './types.js';

export interface BenchParams {
  /** Full-size shapes (MOTE_WEBGPU_BENCH=full); default: small CI shapes. */
  full?: boolean;
}

export async function benchCheck(params: BenchParams): Promise<BenchReport> {
  await useBackend('webgpu');
  const adapter = await webgpuAdapterInfo();
  const records = await benchMixImpls(
    params.full
      ? { tokens: 1024, dim: 256, rank: 16, repeats: 5 }
      : { tokens: 128, dim: 48, rank: 4, repeats: 2 },
  );
  forgetCalibrations();
  const before = { auto: mixKernel('auto').name };
  const calibration = await calibrateMixKernel(
    params.full ? {} : { shape: { tokens: 128, dim: 48, rank: 4 }, repeats: 2 },
  );
  const stepMix = { routing: { kind: 'step' }, stepA: {}, sharedA: {} } as unknown as MixInput;
  const after = { auto: mixKernel('auto').name, segmentedRunsWgsl: useSgmv(stepMix) };
  forgetCalibrations();
  return {
    records,
    calibration: { ...calibration, before, after },
    adapter,
  };
}
