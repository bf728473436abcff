// The README's main job, shortened for CI: `mote demo --quick` runs end to end on the bundled model and data
// (training, staged answers, before/after figures, reports). The full demo is `npm run demo`.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';
import { ROOT } from '../helpers/index.js';

const exec = promisify(execFile);

it('mote demo --quick trains MoTE, shows staged answers and before/after figures', async () => {
  const out = await mkdtemp(join(tmpdir(), 'mote-demo-'));
  const { stdout } = await exec(
    process.execPath,
    ['--import', 'tsx', `${ROOT}src/cli/main.ts`, 'demo', '--quick', '--backend', 'wasm', '--out', out],
    {
      cwd: ROOT,
      env: { ...process.env, CI: 'true' },
    },
  );
  expect(stdout).toMatch(/experts: analysis, guidance, answer \+ shared, rank 16/);
  expect(stdout).toMatch(/staged answers after training/);
  expect(stdout).toMatch(/answer {3}│/);
  expect(stdout).toMatch(/full chain forced[\s\S]*analysis │[\s\S]*guidance │[\s\S]*answer {3}│/);
  const loss = /loss on held-out chains\s+([\d.]+) → ([\d.]+)/.exec(stdout);
  expect(loss).not.toBeNull();
  expect(Number(loss![2])).toBeLessThan(Number(loss![1])); // two steps already lower the held-out loss
  const report = JSON.parse(await readFile(join(out, 'demo.json'), 'utf8'));
  expect(report.runs.map((r: { metrics: { name: string } }) => r.metrics.name)).toEqual(['before', 'after']);
}, 300_000);
