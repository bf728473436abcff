// The mixing kernel 'auto' picks, from measurement: calibrateMixKernel times the candidates on the active device and
// 'auto' follows the fastest until the calibration is forgotten; the WGSL programs' routing tables from a plan.
import * as tf from '@tensorflow/tfjs';
import { afterEach, describe, expect, it } from 'vitest';
import { calibrateMixKernel } from '../../../src/experts/kernels/calibrate.js';
import {
  activeChoice,
  calibrationOf,
  deviceKey,
  forgetCalibrations,
  withMixChoice,
} from '../../../src/experts/kernels/choice.js';
import { AUTO_KERNEL, mixKernel } from '../../../src/experts/kernels/index.js';
import { chainStepIds } from '../../../src/experts/kernels/measure.js';
import { planFromStepIds } from '../../../src/experts/kernels/plan.js';
import { sgmvRegistered, sgmvTables } from '../../../src/experts/kernels/sgmv.js';
import { expectNoLeak } from '../../helpers/index.js';

afterEach(() => forgetCalibrations());

describe('calibrateMixKernel', () => {
  it("measures the candidates on this device and 'auto' follows the fastest", async () => {
    expect(deviceKey()).toBe('wasm');
    expect(mixKernel('auto').name).toBe(AUTO_KERNEL.wasm);
    const c = await calibrateMixKernel({ shape: { tokens: 48, dim: 16, rank: 2 }, warmup: 0, repeats: 1 });
    // no WGSL programs off webgpu: the segmented kernel in tf ops and dense
    expect(sgmvRegistered()).toBe(false);
    expect(Object.keys(c.ms).sort()).toEqual(['dense', 'segmented/ops']);
    expect(c.choice.segmented).toBe('ops');
    const fastest = c.ms.dense < c.ms['segmented/ops'] ? 'dense' : 'segmented';
    expect(c.choice.kernel).toBe(fastest);
    expect(c.device).toBe('wasm');
    expect(calibrationOf()).toBe(c);
    expect(mixKernel('auto').name).toBe(fastest);
    expect(mixKernel('auto', 'topk').name).toBe('dense'); // a learned gate stays dense
    forgetCalibrations();
    expect(mixKernel('auto').name).toBe(AUTO_KERNEL.wasm);
  });

  it('leaves no tensor behind', async () => {
    await expectNoLeak(
      () => calibrateMixKernel({ shape: { tokens: 16, dim: 8, rank: 2 }, warmup: 0, repeats: 1 }),
      1,
    );
  });

  it('a choice in force for a measurement wins over the calibration, and only inside it', () => {
    expect(activeChoice()).toBeNull();
    const inside = withMixChoice({ kernel: 'reference', segmented: 'ops' }, () => mixKernel('auto').name);
    expect(inside).toBe('reference');
    expect(activeChoice()).toBeNull();
  });
});

describe('sgmvTables', () => {
  it("gives each token's step expert, the rows sorted by expert and each expert's run of them", () => {
    const ids = Int32Array.from([2, 2, -1, 0, 0, 2, -1, 0]);
    const plan = planFromStepIds(ids, 4, true); // expert 1 and 3 have no token
    const t = tf.tidy(() => {
      const tables = sgmvTables(plan, 4);
      return [tables.tokExp, tables.rows, tables.ranges].map((x) => Array.from(x.dataSync()));
    });
    const [tokExp, rows, ranges] = t;
    expect(tokExp).toEqual([2, 2, -1, 0, 0, 2, -1, 0]);
    expect(rows).toEqual([3, 4, 7, 0, 1, 5, 2, 6]); // expert 0, expert 2, then the shared-only tokens
    expect(ranges).toEqual([0, 3, 0, 0, 3, 3, 0, 0]); // [first, count] per expert
    plan.dispose();
  });

  it('chain-like step ids: a question run, then one run per expert, in every row', () => {
    const ids = chainStepIds(3, 20, 3, 'x');
    for (let b = 0; b < 3; b++) {
      const row = Array.from(ids.subarray(b * 20, (b + 1) * 20));
      const after = row.slice(row.findIndex((e, i) => i > 0 && e !== row[0]));
      expect(after).toEqual([...after].sort((p, q) => p - q)); // analysis → guidance → answer
      expect(after.at(-1)).toBe(2);
    }
  });
});
