// The library on tfjs's webgpu backend in Chromium (SwiftShader's software adapter here; MOTE_BROWSER and
// MOTE_WEBGPU_ADAPTER=hardware point the same tests at a GPU): the Llama forward, KV-cache decoding and backward, the
// fused ops' composed forms, every mixing kernel over the unit tests' case table (the WGSL programs among them), a
// full MoTE training step and staged generation with expert switching, each against the cpu backend in the page;
// then the mixing benchmark, whose records are printed as JSON lines. Never skipped: without Chromium or a WebGPU
// adapter these tests fail, saying what to install. MOTE_WEBGPU_BENCH=full runs the benchmark at full size.
import { mkdir, writeFile } from 'node:fs/promises';
import { afterAll, describe, expect, it } from 'vitest';
import type { KernelReport } from '../../src/backend/kernels/index.js';
import { ROOT } from '../helpers/index.js';
import { type AdapterInfo, adapterMismatch, expectedAdapter } from './adapter.js';
import { type Harness, openHarness, type PageSession } from './harness.js';
import type {
  BenchReport,
  Comparison,
  MixReport,
  ModelReport,
  StagedReport,
  TrainReport,
} from './pages/webgpu/types.js';

const OUT = `${ROOT}out/browser/`;
const TOL = 1e-4;
const FULL_BENCH = process.env.MOTE_WEBGPU_BENCH === 'full';

interface Setup {
  harness: Harness;
  page: PageSession;
  adapter: AdapterInfo;
  kernels: KernelReport;
}
let pending: Promise<Setup> | undefined;
const report: Record<string, unknown> = {};

// In each test rather than in beforeAll, so that a missing Chromium or adapter fails every test with its message.
function setup(): Promise<Setup> {
  pending ??= (async () => {
    const harness = await openHarness({ page: `${ROOT}tests/browser/pages/webgpu`, outDir: `${OUT}webgpu` });
    const page = await harness.open();
    const { adapter, kernels } = await page.call<{ adapter: AdapterInfo; kernels: KernelReport }>('setup');
    report.timings = harness.timings;
    report.adapter = adapter;
    return { harness, page, adapter, kernels };
  })();
  return pending;
}

afterAll(async () => {
  await (await pending?.catch(() => undefined))?.harness.close();
  await mkdir(OUT, { recursive: true });
  await writeFile(`${OUT}webgpu.json`, `${JSON.stringify(report, null, 2)}\n`);
});

/** Runs a check, recording its wall time. */
async function check<T>(name: string, params: unknown = {}): Promise<T> {
  const { page } = await setup();
  const t0 = performance.now();
  const result = await page.call<T>(name, params);
  report[`${name}Ms`] = performance.now() - t0;
  return result;
}

/** Every comparison within `tol`, reported by name when not. */
function expectWithin(comparisons: Comparison[], tol = TOL): void {
  expect(comparisons.length).toBeGreaterThan(0);
  const bad = comparisons.filter((c) => !(c.error <= tol));
  expect(bad.map((c) => `${c.name}: ${c.error} (scale ${c.scale})`)).toEqual([]);
}

const worst = (comparisons: Comparison[]) => Math.max(...comparisons.map((c) => c.error));

describe('the library on webgpu (Chromium)', () => {
  it('has a WebGPU adapter of the kind MOTE_WEBGPU_ADAPTER expects, and the webgpu kernels registered', async () => {
    const { adapter, kernels } = await setup();
    expect(adapterMismatch(adapter, expectedAdapter(process.env.MOTE_WEBGPU_ADAPTER))).toBeUndefined();
    expect(kernels.installed).toEqual(
      expect.arrayContaining([
        'Reverse@webgpu (override)',
        'Cast@webgpu (override)',
        'Transpose@webgpu (override)',
        'AddN@webgpu (override)',
        'BatchMatMul@webgpu (override)',
        'MoteSgmvMix@webgpu',
        'MoteSegmentedMix@webgpu',
      ]),
    );
    expect(kernels.skipped.filter((s) => s.includes('webgpu'))).toEqual([]);
  });

  it('Llama forward, KV-cache decoding, the full backward and the fused ops equal cpu to 1e-4', async () => {
    const r = await check<ModelReport>('model');
    expectWithin(r.comparisons);
    expect(r.comparisons.map((c) => c.name)).toEqual(
      expect.arrayContaining([
        'model / logits',
        'model / decoded',
        'model / dembedding',
        'model / webgpu decode vs forward / decoded',
        'fused / ropeD',
        'shims / alternating',
        'shims / int5',
        'shims / castSum',
        'shims / addN',
      ]),
    );
    expect(r.leaked).toEqual({ cpu: 0, webgpu: 0 });
    // the shim is needed: tfjs 4.22's own webgpu Reverse drops the first axis of a rank-5 tensor
    expect(r.originalReverse.threw).toMatch(/must match the product of shape 3,2,2,2/);
    report.model = { worst: worst(r.comparisons), ms: r.ms, originalReverse: r.originalReverse };
  });

  it('every mixing kernel, the WGSL programs among them, equals the reference to 1e-4 over the case table', async () => {
    const r = await check<MixReport>('mix');
    // one-token top-k gates: the renormalised weight is exactly 1, the gate gets no task gradient (absolute check)
    const noGradient = (c: Comparison) => c.name.startsWith('top-1 gate') && c.name.endsWith('/ dgate');
    expectWithin(r.comparisons.filter((c) => !noGradient(c)));
    for (const c of r.comparisons.filter(noGradient)) expect(c.error * c.scale).toBeLessThan(1e-5);
    // the programs ran for step routing and the single LoRA, and top-k gates fell back to tf ops
    for (const [name, ran] of Object.entries(r.wgslRan)) expect(ran, name).toBe(!name.includes('gate'));
    expect(Object.keys(r.wgslRan)).toHaveLength(13);
    expect(r.leaked).toBe(0);
    const checked = r.comparisons.filter((c) => !noGradient(c));
    const wgsl = checked.filter((c) => c.name.includes('segmented/wgsl') && !c.name.includes('gate'));
    report.mix = { worst: worst(checked), worstWgsl: worst(wgsl), ms: r.ms };
  });

  it('a full MoTE training step (loss, clipped gradients, AdamW) gives the same loss and adapters as cpu', async () => {
    const r = await check<TrainReport>('train');
    expectWithin(r.comparisons);
    expect(r.comparisons.map((c) => c.name)).toEqual(
      expect.arrayContaining(['loss', 'gradNorm', 'blocks.0.attn.q.stepA', 'blocks.1.mlp.down.sharedB']),
    );
    expect(r.wgslRan).toBe(true);
    expect(r.losses.webgpu[1]).toBeLessThan(r.losses.webgpu[0]); // it trains
    expect(r.leaked).toEqual({ cpu: 0, webgpu: 0 });
    report.train = { worst: worst(r.comparisons), losses: r.losses, ms: r.ms };
  });

  it.each([
    ['merged weights per step', true],
    ['experts mixed per token', false],
  ])('staged generation switches experts (%s): each token is the cpu argmax', async (_, merged) => {
    const r = await check<StagedReport>('staged', { merged });
    expect(r.order).toEqual(['analysis', 'guidance', 'answer']);
    expect(r.tokens.length).toBeGreaterThanOrEqual(3);
    for (const t of r.tokens) expect(t.expert).toBe(t.stage);
    expect(Math.max(...r.gaps)).toBeLessThanOrEqual(TOL);
    expect(r.spread).toBeGreaterThan(0.1);
    expect(r.wrongExpertDiff).toBeGreaterThan(1e-3); // the expert of a step changes its logits
    expect(r.leaked).toBe(0);
    report[`staged${merged ? 'Merged' : 'Unmerged'}`] = {
      tokens: r.tokens.length,
      ms: r.ms,
      leaked: r.leaked,
    };
  });

  // the full-size benchmark compiles and times large software-WebGPU programs: minutes, not the CI budget
  const benchTimeout = FULL_BENCH ? 1_800_000 : undefined;
  it('benchmarks the mixing implementations (JSON records) and picks the kernel of auto by measurement', {
    timeout: benchTimeout,
  }, async () => {
    const { adapter } = await setup();
    const r = await check<BenchReport>('bench', { full: FULL_BENCH });
    const lines = r.records.map((rec) => JSON.stringify({ ...rec, browser: 'chromium' }));
    for (const line of lines) console.log(line);
    await mkdir(OUT, { recursive: true });
    await writeFile(`${OUT}webgpu-bench.jsonl`, `${lines.join('\n')}\n`);
    const impls = r.records.map((rec) => (rec as { impl: string }).impl);
    expect(impls).toEqual(
      expect.arrayContaining([
        'base',
        'lora/segmented-wgsl',
        'mote/segmented-wgsl',
        'mote/segmented-ops',
        'mote/dense',
      ]),
    );
    for (const rec of r.records as { ms: number; software: boolean }[]) {
      expect(rec.ms).toBeGreaterThan(0);
      expect(rec.software).toBe(adapter.isFallbackAdapter || /swiftshader/i.test(adapter.architecture));
    }
    // 'auto' follows the measurement: its kernel, and whether segmented runs the WGSL programs
    const c = r.calibration as {
      choice: { kernel: string; segmented: string };
      ms: Record<string, number>;
      after: { auto: string; segmentedRunsWgsl: boolean };
    };
    expect(Object.keys(c.ms).sort()).toEqual(['dense', 'segmented/ops', 'segmented/wgsl']);
    const fastest = Object.entries(c.ms).reduce((a, b) => (b[1] < a[1] ? b : a))[0];
    expect(c.choice.kernel).toBe(fastest === 'dense' ? 'dense' : 'segmented');
    expect(c.after.auto).toBe(c.choice.kernel);
    expect(c.after.segmentedRunsWgsl).toBe(c.ms['segmented/wgsl'] <= c.ms['segmented/ops']);
    report.bench = { calibration: r.calibration };
  });

  it('the page reported no errors; a screenshot shows the checks', async () => {
    const { page } = await setup();
    expect(page.errors()).toEqual([]);
    await mkdir(OUT, { recursive: true });
    await page.screenshot(`${OUT}webgpu.png`);
  });
});
