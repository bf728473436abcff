// How a failed training run explains itself (run/train.ts `explainFailure`): a non-finite loss says which checkpoint
// of the run is kept; other errors pass unchanged.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { explainFailure } from '../../../src/run/train.js';
import { checkpointsDir } from '../../../src/train/checkpoint.js';
import { NonFiniteError } from '../../../src/train/clip.js';

describe('explainFailure', () => {
  it('a non-finite loss without a checkpoint says none was saved', async () => {
    const out = await mkdtemp(join(tmpdir(), 'mote-stop-'));
    const e = await explainFailure(new NonFiniteError('loss', Number.NaN, 3), out);
    expect((e as Error).message).toMatch(/; training stopped, no checkpoint was saved yet$/);
  });

  it('a non-finite loss names the last good checkpoint', async () => {
    const out = await mkdtemp(join(tmpdir(), 'mote-stop-'));
    const dir = join(checkpointsDir(out), 'step-00000002');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'state.json'), '{}');
    const e = await explainFailure(new NonFiniteError('loss', Number.NaN, 3), out);
    expect((e as Error).message).toContain(`the last good checkpoint is kept: ${dir}`);
  });

  it('other errors pass unchanged', async () => {
    const out = await mkdtemp(join(tmpdir(), 'mote-stop-'));
    const original = new Error('boom');
    const e = await explainFailure(original, out);
    expect(e).toBe(original);
    expect(original.message).toBe('boom');
  });
});
