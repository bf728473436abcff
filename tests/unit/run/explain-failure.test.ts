// How a failed training run explains itself (run/train.ts `explainFailure`): a non-finite loss says which checkpoint
// of the run is kept (the newest that reads back with finite values); other errors pass unchanged.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { explainFailure } from '../../../src/run/train.js';
import { checkpointsDir, saveCheckpoint } from '../../../src/train/checkpoint.js';
import { NonFiniteError } from '../../../src/train/clip.js';

describe('explainFailure', () => {
  it('a non-finite loss without a checkpoint says none was saved', async () => {
    const out = await mkdtemp(join(tmpdir(), 'mote-stop-'));
    const e = await explainFailure(new NonFiniteError('loss', Number.NaN, 3), out);
    expect((e as Error).message).toMatch(/; training stopped, no checkpoint was saved yet$/);
  });

  it('a non-finite loss names the last good checkpoint: the newest that reads back with finite values', async () => {
    const out = await mkdtemp(join(tmpdir(), 'mote-stop-'));
    const save = (step: number, value: number) =>
      saveCheckpoint({
        outDir: out,
        step,
        variables: new Map([['w', tf.tensor([1, value])]]),
        allowNonFinite: true,
      });
    const good = await save(2, 0.5);
    await save(3, Number.NaN); // written by an older version, or damaged since: not a good checkpoint
    const e = await explainFailure(new NonFiniteError('loss', Number.NaN, 4), out);
    expect((e as Error).message).toMatch(
      new RegExp(`; training stopped, the last good checkpoint is kept: ${good}$`),
    );
    // a directory with a state.json is not enough: it has to read back
    await writeFile(join(checkpointsDir(out), 'step-2', 'state.json'), '{}');
    const none = await explainFailure(new NonFiniteError('loss', Number.NaN, 4), out);
    expect((none as Error).message).toMatch(/no checkpoint was saved yet$/);
  });

  it('other errors pass unchanged', async () => {
    const out = await mkdtemp(join(tmpdir(), 'mote-stop-'));
    const original = new Error('boom');
    const e = await explainFailure(original, out);
    expect(e).toBe(original);
    expect(original.message).toBe('boom');
  });
});
