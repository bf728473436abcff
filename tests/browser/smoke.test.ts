// Proves the browser harness end to end in Debian's Chromium: tfjs's wasm backend (single-threaded, and the
// threaded build in a cross-origin isolated page) and its webgpu backend (SwiftShader's software adapter here)
// compute relu(x·w) and its gradients as the cpu backend does in Node. Never skipped: without Chromium or a
// WebGPU adapter these tests fail, saying what to install.
import { mkdir, writeFile } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { maxAbsDiff, ROOT } from '../helpers/index.js';
import { adapterMismatch, expectedAdapter } from './adapter.js';
import { type Harness, openHarness, type PageSession } from './harness.js';
import { type MatmulReluCase, type MatmulReluResult, matmulReluGrad } from './pages/smoke/matmul-relu.js';
import type { SmokeParams, SmokeRun } from './pages/smoke/types.js';

const OUT = `${ROOT}out/browser/`;
// Not multiples of any tile or workgroup size, so edge handling in the kernels is exercised.
const CASE: MatmulReluCase = { m: 37, k: 70, n: 45, seed: 11 };

const report: Record<string, unknown> = { maxAbsDiff: {}, timings: {} };

/** The reference, the built page and the browser, made once by the first test that needs them. */
interface Setup {
  harness: Harness;
  page: PageSession;
  reference: MatmulReluResult;
}
let pending: Promise<Setup> | undefined;

// In each test rather than in beforeAll, so that a missing Chromium fails every test with its message
// instead of reporting them as skipped.
function setup(): Promise<Setup> {
  pending ??= (async () => {
    const previous = tf.getBackend();
    await tf.setBackend('cpu');
    const reference = await matmulReluGrad(CASE);
    await tf.setBackend(previous);
    const harness = await openHarness({ page: `${ROOT}tests/browser/pages/smoke`, outDir: `${OUT}smoke` });
    Object.assign(report.timings as object, harness.timings);
    return { harness, page: await harness.open(), reference };
  })();
  return pending;
}

afterAll(async () => {
  await (await pending?.catch(() => undefined))?.harness.close();
  await mkdir(OUT, { recursive: true });
  await writeFile(`${OUT}smoke.json`, `${JSON.stringify(report, null, 2)}\n`);
});

/** Asserts a page run equals the Node cpu reference to `tol` and leaked nothing; reports the differences. */
function expectMatchesCpu(label: string, run: SmokeRun, reference: MatmulReluResult, tol: number): void {
  expect(reference.y.some((v) => v > 0)).toBe(true); // the case is not degenerate (relu keeps some values)
  const diffs: Record<string, number> = {};
  for (const key of ['y', 'dx', 'dw'] as const) {
    expect(run[key]).toHaveLength(reference[key].length);
    diffs[key] = maxAbsDiff(run[key], reference[key]);
  }
  (report.maxAbsDiff as Record<string, unknown>)[label] = diffs;
  for (const [key, diff] of Object.entries(diffs)) expect(diff, key).toBeLessThanOrEqual(tol);
  expect(run.leaked).toBe(0);
}

/** Runs the case in `session` on a backend; records the call's wall time under `label`. */
async function run(session: PageSession, label: string, params: Omit<SmokeParams, keyof MatmulReluCase>) {
  const t0 = performance.now();
  const result = await session.call<SmokeRun>('run', { ...CASE, ...params });
  (report.timings as Record<string, number>)[`${label}Ms`] = performance.now() - t0;
  return result;
}

describe('browser harness smoke (Chromium)', () => {
  it('wasm backend in the page: relu(x·w) and its gradients equal the cpu backend to 1e-5', async () => {
    const { page, reference } = await setup();
    const result = await run(page, 'wasm', { backend: 'wasm' });
    expect(result.backend).toBe('wasm');
    expect(result.wasm).toMatchObject({ simd: true, crossOriginIsolated: false, threads: 1 });
    expectMatchesCpu('wasm', result, reference, 1e-5);
    report.wasm = result.wasm;
  });

  it('webgpu backend in the page: the same to 1e-4, on the adapter MOTE_WEBGPU_ADAPTER expects', async () => {
    const { page, reference } = await setup();
    const result = await run(page, 'webgpu', { backend: 'webgpu' });
    expect(result.backend).toBe('webgpu');
    expect(result.adapter).toBeDefined();
    report.adapter = result.adapter;
    const expected = expectedAdapter(process.env.MOTE_WEBGPU_ADAPTER);
    expect(adapterMismatch(result.adapter!, expected)).toBeUndefined();
    expectMatchesCpu('webgpu', result, reference, 1e-4);
  });

  it('a cross-origin isolated page runs the threaded wasm build, here on 2 threads', async () => {
    const { harness, reference } = await setup();
    // hardwareConcurrency 4: tfjs starts hardwareConcurrency / 2 threads, so a 2-core machine gets 2, not 1.
    const isolated = await harness.open({ crossOriginIsolated: true, hardwareConcurrency: 4 });
    const result = await run(isolated, 'wasmThreaded', { backend: 'wasm' });
    expect(result.wasm).toMatchObject({
      simd: true,
      multithread: true,
      crossOriginIsolated: true,
      threads: 2,
    });
    expect(isolated.server.requests.filter((r) => r.endsWith('.wasm'))).toEqual([
      expect.stringMatching(/^200 \/assets\/tfjs-backend-wasm-threaded-simd-.*\.wasm$/),
    ]);
    expectMatchesCpu('wasmThreaded', result, reference, 1e-5);
    expect(isolated.errors()).toEqual([]);
  });

  it('the page reported no errors; a screenshot shows the runs', async () => {
    const { page } = await setup();
    expect(page.errors()).toEqual([]);
    await expect(page.page.locator('#results tr').count()).resolves.toBe(2);
    await mkdir(OUT, { recursive: true });
    await page.screenshot(`${OUT}smoke.png`);
  });
});
