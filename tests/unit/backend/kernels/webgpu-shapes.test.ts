// The host-side logic of the webgpu kernels, which Node can check without a GPU (the kernels themselves run in the
// browser tests, tests/browser/webgpu.test.ts): how the Reverse fix folds axes, and the WGSL programs' layouts.
import { describe, expect, it } from 'vitest';
import { mergeReverseAxes } from '../../../../src/backend/kernels/webgpu-reverse.js';
import {
  expandProgram,
  reduceProgram,
  shrinkProgram,
} from '../../../../src/backend/kernels/webgpu-sgmv-wgsl.js';

describe('mergeReverseAxes', () => {
  it('folds runs of kept and of reversed axes into one axis each', () => {
    expect(mergeReverseAxes([2, 3, 4, 2, 2], [4])).toEqual([[48, 2], [1]]);
    expect(mergeReverseAxes([2, 3, 4, 2, 2], [0])).toEqual([[2, 48], [0]]);
    expect(mergeReverseAxes([2, 3, 4, 5, 6], [1, 2])).toEqual([[2, 12, 30], [1]]);
    expect(mergeReverseAxes([2, 2, 3, 1, 2, 3], [0, 1, 2, 3, 4, 5])).toEqual([[72], [0]]);
    // alternating: no run to fold, rank stays 6 (the kernel then reverses axis by axis)
    expect(mergeReverseAxes([2, 2, 3, 1, 2, 3], [0, 2, 4])).toEqual([
      [2, 2, 3, 1, 2, 3],
      [0, 2, 4],
    ]);
  });

  it('reversing a folded run equals reversing each of its axes (checked on indices)', () => {
    const shape = [2, 3, 4];
    const n = 24;
    const strided = (i: number) => [Math.floor(i / 12), Math.floor(i / 4) % 3, i % 4];
    for (let i = 0; i < n; i++) {
      const [a, b, c] = strided(i);
      const perAxis = (1 - a) * 12 + (2 - b) * 4 + (3 - c); // reverse axes 0, 1, 2
      expect(perAxis).toBe(n - 1 - i); // reverse of the one folded axis
    }
    expect(mergeReverseAxes(shape, [0, 1, 2])).toEqual([[24], [0]]);
  });
});

describe('the segmented LoRA programs', () => {
  it('bind only the blocks present, and cover every output element with 64-wide workgroups', () => {
    const shrink = shrinkProgram(37, 6, { shared: true, step: true }, false);
    expect(shrink.variableNames).toEqual(['src', 'wsh', 'wst', 'tokExp']);
    expect(shrink.outputShape).toEqual([37, 6]);
    expect(shrink.dispatch).toEqual([Math.ceil((37 * 6) / 64), 1, 1]);
    expect(shrinkProgram(5, 3, { shared: true, step: false }, true).variableNames).toEqual(['src', 'wsh']);
    expect(expandProgram(5, 45, { shared: false, step: true }, true, false).variableNames).toEqual([
      'h',
      'wst',
      'tokExp',
    ]);
    expect(expandProgram(5, 45, { shared: true, step: true }, false, true).variableNames[0]).toBe('base');
    // programs that differ in what they bind or how they read have different keys (tfjs caches pipelines by key)
    const keys = [
      shrinkProgram(5, 3, { shared: true, step: true }, false),
      shrinkProgram(5, 3, { shared: true, step: true }, true),
      shrinkProgram(5, 3, { shared: false, step: true }, false),
    ].map((p) => p.shaderKey);
    expect(new Set(keys).size).toBe(3);
  });

  it('lay a factor gradient out like A (in, blocks·r) or like B (blocks·r, out)', () => {
    expect(reduceProgram(70, 3, 5, 'cols', true).outputShape).toEqual([70, 15]);
    expect(reduceProgram(45, 1, 5, 'rows', false).outputShape).toEqual([5, 45]);
    expect(reduceProgram(45, 3, 5, 'rows', true).variableNames).toEqual(['p', 'q', 'rows', 'ranges']);
    expect(reduceProgram(45, 1, 5, 'rows', false).variableNames).toEqual(['p', 'q']);
  });
});
