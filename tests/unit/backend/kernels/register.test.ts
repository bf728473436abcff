// registerKernels (src/backend/kernels/index.ts): importing the library registers nothing; selectBackend registers
// every kernel and gradient once; a second call installs nothing; a kernel removed is put back; and an op whose
// kernel is missing throws an error that says what to call.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { KernelNotRegisteredError, registerKernels } from '../../../../src/backend/index.js';
import { ADAMW } from '../../../../src/backend/kernels/adamw.js';
import { batchMatMulGradConfig } from '../../../../src/backend/kernels/batch-matmul-grad.js';
import { withGradient } from '../../../../src/backend/kernels/index.js';
import { RMS_NORM } from '../../../../src/backend/kernels/rms-norm.js';
import { unsortedSegmentSumWasmConfig } from '../../../../src/backend/kernels/unsorted-segment-sum.js';
import { segmentedKernel } from '../../../../src/experts/kernels/segmented.js';
import type { MixInput } from '../../../../src/experts/kernels/types.js';
import { topKMask } from '../../../../src/experts/top-k-router.js';
import { maskedSoftmax } from '../../../../src/model/fused/masked-softmax.js';
import { rmsNorm } from '../../../../src/model/fused/rms-norm.js';
import { tokenNllFused } from '../../../../src/model/fused/token-nll.js';
import { Rope } from '../../../../src/model/rope.js';
import { AdamW } from '../../../../src/train/optimizer.js';
import { onBackend, ROOT } from '../../../helpers/index.js';

const run = promisify(execFile);

describe('registerKernels', () => {
  it('has run in selectBackend (tests/setup.ts): a second call installs nothing and skips only the webgpu fixes', () => {
    const report = registerKernels();
    expect(report.installed).toEqual([]);
    // tfjs-backend-webgpu is not loaded in Node: its kernels are not there to be replaced
    expect(report.skipped).toEqual(
      ['Reverse', 'Cast', 'Transpose', 'AddN', 'BatchMatMul'].map(
        (k) => `${k}@webgpu (override): @tensorflow/tfjs-backend-webgpu is not loaded`,
      ),
    );
    expect(report.present).toEqual(
      expect.arrayContaining([
        'UnsortedSegmentSum@wasm',
        'BatchMatMul (gradient)',
        'Transpose@wasm (override)',
        'MoteRmsNorm@cpu',
        'MoteRmsNorm@wasm',
        'MoteSegmentedMix@webgpu',
        'MoteSgmvMix@webgpu',
        'MoteTopKMask@tensorflow',
        'MoteAdamW@cpu',
      ]),
    );
    expect(report.present).not.toContain('MoteAdamW@tensorflow'); // a JS kernel: wasm and cpu only
    expect(tf.getKernel(tf.UnsortedSegmentSum, 'wasm')).toBe(unsortedSegmentSumWasmConfig);
    expect(tf.getGradient(tf.BatchMatMul)).toBe(batchMatMulGradConfig);
  });

  it('puts back a kernel that was removed, and only that one', () => {
    tf.unregisterKernel(RMS_NORM, 'cpu');
    expect(registerKernels().installed).toEqual(['MoteRmsNorm@cpu']);
    expect(registerKernels().installed).toEqual([]);
  });

  it('each op whose kernel is not registered says to call selectBackend or registerKernels', async () => {
    const x = tf.ones([2, 4]) as tf.Tensor2D; // (N, d)
    const w = tf.ones([4]) as tf.Tensor1D;
    const probs = tf.tensor2d([[0.2, 0.8]]);
    const scores = tf.zeros([1, 1, 2, 2]) as tf.Tensor4D;
    const mask = tf.zeros([2, 2]) as tf.Tensor2D;
    const targets = tf.tensor1d([0, 3], 'int32');
    const v = tf.variable(w, true);
    const adamw = new AdamW(new Map([['w', v]]));
    const rope = new Rope(2, 4, 10000);
    const mix: MixInput = {
      x,
      xl: x,
      w0: tf.ones([4, 3]) as tf.Tensor2D,
      stepA: null,
      stepB: null,
      sharedA: tf.ones([4, 2]) as tf.Tensor2D,
      sharedB: tf.ones([2, 3]) as tf.Tensor2D,
      rank: 2,
      numExperts: 0,
      stepCoef: 1,
      sharedCoef: 1,
      routing: { kind: 'none' },
    };
    const cases: [string, () => unknown][] = [
      [RMS_NORM, () => rmsNorm(x, w, 1e-5)],
      ['MoteRopeHeads', () => rope.heads(x, 1, 2, 2, 0)],
      ['MoteMaskedSoftmax', () => maskedSoftmax(scores, mask)],
      ['MoteTokenNll', () => tokenNllFused(x, targets)],
      ['MoteSegmentedMix', () => segmentedKernel.mix(mix)],
      ['MoteTopKMask', () => topKMask(probs, 1)],
      [ADAMW, () => adamw.applyGradients(new Map([['w', w]]), 0.1)],
    ];
    try {
      for (const [name, op] of cases) {
        await onBackend('cpu', () => {
          const saved = tf.getKernel(name, 'cpu');
          tf.unregisterKernel(name, 'cpu');
          try {
            expect(op).toThrow(KernelNotRegisteredError);
            expect(op).toThrow(
              `${name} kernel not registered for the 'cpu' backend: call selectBackend() (or registerKernels()) first`,
            );
          } finally {
            tf.registerKernel(saved);
          }
        });
      }
    } finally {
      adamw.dispose();
      rope.dispose();
      tf.dispose([x, w, probs, scores, mask, targets, v, mix.w0, mix.sharedA!, mix.sharedB!]);
    }
  });
});

describe('withGradient', () => {
  it('swaps a gradient for the run and puts the previous one back, also when the run throws', async () => {
    const other: tf.GradConfig = {
      ...batchMatMulGradConfig,
      gradFunc: batchMatMulGradConfig.gradFunc.bind(null),
    };
    const seen = await withGradient(other, async () => tf.getGradient(tf.BatchMatMul));
    expect(seen).toBe(other);
    expect(tf.getGradient(tf.BatchMatMul)).toBe(batchMatMulGradConfig);
    await expect(
      withGradient(other, async () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(tf.getGradient(tf.BatchMatMul)).toBe(batchMatMulGradConfig);
  });
});

describe('importing the library', () => {
  it('registers no kernel or gradient until selectBackend runs, which registers them all', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mote-kernels-'));
    try {
      const script = join(dir, 'import.mts');
      const url = (path: string) => JSON.stringify(pathToFileURL(path).href);
      const req = `createRequire(${url(join(ROOT, 'package.json'))})`;
      await writeFile(
        script,
        [
          `import { createRequire } from 'node:module';`,
          `import { pathToFileURL } from 'node:url';`,
          `const load = (pkg: string) => import(pathToFileURL(${req}.resolve(pkg)).href);`,
          `const tf = await load('@tensorflow/tfjs');`,
          `await load('@tensorflow/tfjs-backend-wasm');`,
          // the whole registry: every kernel of the backends the library uses, and every gradient it registers
          `const grads = ['BatchMatMul', 'MoteRmsNorm', 'MoteRopeHeads', 'MoteMaskedSoftmax', 'MoteTokenNll',`,
          `  'MoteSegmentedMix', 'MoteSgmvMix', 'MoteTopKMask', 'MoteHeadNll', 'MoteWeightMatMul',`,
          `  'MoteWeightMatMulT', 'MoteRowsMatMul', 'MoteSwiGlu', 'MoteReshape', 'MoteAddSame', 'MoteBiasAdd',`,
          `  'MoteCausalAttention'];`,
          `const snapshot = () => new Map<string, unknown>([`,
          `  ...['cpu', 'wasm', 'tensorflow', 'webgl', 'webgpu'].flatMap((b) =>`,
          `    tf.getKernelsForBackend(b).map((k: { kernelName: string; kernelFunc: unknown }) =>`,
          `      [k.kernelName + '@' + b, k.kernelFunc] as [string, unknown])),`,
          `  ...grads.map((g) => [g + ' (gradient)', tf.getGradient(g)] as [string, unknown]),`,
          `]);`,
          `const changed = (a: Map<string, unknown>, b: Map<string, unknown>) =>`,
          `  [...new Set([...a.keys(), ...b.keys()])].filter((k) => a.get(k) !== b.get(k)).sort();`,
          `const before = snapshot();`,
          `const mote = await import(${url(join(ROOT, 'src/index.ts'))});`,
          `const afterImport = snapshot();`,
          `await mote.selectBackend({ backend: 'cpu' });`,
          `const afterSelect = snapshot();`,
          `const again = mote.registerKernels();`,
          `console.log(JSON.stringify({ onImport: changed(before, afterImport),`,
          `  onSelect: changed(afterImport, afterSelect), again }));`,
        ].join('\n'),
      );
      const tsx = fileURLToPath(import.meta.resolve('tsx/cli'));
      const { stdout } = await run(process.execPath, [tsx, script], { timeout: 60_000 });
      const out = JSON.parse(stdout) as {
        onImport: string[];
        onSelect: string[];
        again: { installed: string[]; present: string[]; skipped: string[] };
      };
      expect(out.onImport).toEqual([]);
      // selectBackend registered exactly what registerKernels reports as present now
      const registered = out.again.present.map((id) => id.replace(' (override)', '')).sort();
      expect(out.onSelect).toEqual(registered);
      expect(out.onSelect).toEqual(
        expect.arrayContaining(['BatchMatMul (gradient)', 'MoteRmsNorm@cpu', 'Transpose@wasm']),
      );
      expect(out.again.installed).toEqual([]);
      expect(out.again.skipped.every((s) => s.includes('@webgpu (override)'))).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
