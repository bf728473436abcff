// The examples/ scripts run as written (shortened with MOTE_QUICK=1).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';
import { ROOT } from '../helpers/index.js';

const exec = promisify(execFile);

it('examples/quickstart.ts trains and answers stage by stage', async () => {
  const { stdout } = await exec(process.execPath, ['--import', 'tsx', 'examples/quickstart.ts'], {
    cwd: ROOT,
    env: { ...process.env, MOTE_QUICK: '1' },
  });
  expect(stdout).toMatch(/backend: wasm/);
  expect(stdout).toMatch(/step 1\/1 loss \d/);
  expect(stdout).toMatch(/^answer: /m);
}, 180_000);
