import { it } from 'vitest';
import { openHarness } from '/work/wt-webgpu/tests/browser/harness.js';
it('one', async () => {
  const h = await openHarness({ page: '/work/wt-webgpu/tests/browser/pages/webgpu', outDir: '/work/wt-webgpu/out/browser/dbg' });
  const p = await h.open();
  await p.call('setup');
  for (const name of (process.env.CHECKS ?? 'mix').split(',')) {
    const t0 = performance.now();
    try {
      const r = await p.call<any>(name, JSON.parse(process.env.PARAMS ?? '{}'));
      const bad = (r.comparisons ?? []).filter((c: any) => !(c.error <= 1e-4));
      console.log(name, performance.now() - t0, JSON.stringify({ ...r, comparisons: undefined, bad }, null, 1).slice(0, 12000));
    } catch (e) { console.log(name, 'ERR', String(e).slice(0, 1500)); }
  }
  console.log(p.console.filter((l) => !l.startsWith('log: mix')).slice(0, 30).join('\n').slice(0, 6000));
  console.log(p.console.filter((l) => l.startsWith('log: mix')).slice(-60).join('\n'));
  await h.close();
}, 600000);
