// How a failed `mote train` / `mote pretrain` run ends (src/cli/run-stop.ts): the bar stops, the metrics written
// so far are flushed, and a non-finite loss says which checkpoint is kept; other errors pass unchanged.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { failedRunError } from '../../../src/cli/run-stop.js';
import { checkpointsDir } from '../../../src/train/checkpoint.js';
import { NonFiniteError } from '../../../src/train/clip.js';

function spies() {
  const calls: string[] = [];
  return {
    calls,
    progress: { stop: () => calls.push('stop') },
    metrics: {
      flush: async () => {
        calls.push('flush');
        throw new Error('disk full'); // a failing flush must not hide the run's error
      },
    },
  };
}

describe('failedRunError', () => {
  it('a non-finite loss without a checkpoint says none was saved; bar stopped, metrics flushed', async () => {
    const out = await mkdtemp(join(tmpdir(), 'mote-stop-'));
    const s = spies();
    const e = await failedRunError(new NonFiniteError('loss', Number.NaN, 3), out, s.progress, s.metrics);
    expect((e as Error).message).toMatch(/; training stopped, no checkpoint was saved yet$/);
    expect(s.calls).toEqual(['stop', 'flush']);
  });

  it('a non-finite loss names the last good checkpoint', async () => {
    const out = await mkdtemp(join(tmpdir(), 'mote-stop-'));
    const dir = join(checkpointsDir(out), 'step-00000002');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'state.json'), '{}');
    const s = spies();
    const e = await failedRunError(new NonFiniteError('loss', Number.NaN, 3), out, s.progress, s.metrics);
    expect((e as Error).message).toContain(`the last good checkpoint is kept: ${dir}`);
  });

  it('other errors pass unchanged', async () => {
    const out = await mkdtemp(join(tmpdir(), 'mote-stop-'));
    const original = new Error('boom');
    const e = await failedRunError(original, out, spies().progress, spies().metrics);
    expect(e).toBe(original);
    expect(original.message).toBe('boom');
  });
});
