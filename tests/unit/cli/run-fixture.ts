// A small "trained" run directory for the inference commands' tests, made in-process in a fraction of a second:
// what `mote train --out DIR` leaves (config.json + checkpoints/latest), with seeded non-zero adapters so a
// restored model differs from the untrained one.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import seedrandom from 'seedrandom';
import yargs, { type CommandModule } from 'yargs';
import { type RunConfigInput, resolveRunConfig } from '../../../src/run/config.js';
import { buildRunModel } from '../../../src/run/load.js';
import { saveCheckpoint } from '../../../src/train/checkpoint.js';
import { STORIES_BIN, TOK512_BIN } from '../../helpers/index.js';

/**
 * Writes a run of stories260K with `experts` (default MoTE rank 4) into `dir` and returns the saved trainable
 * variables' values by name.
 */
export async function makeRun(
  dir: string,
  experts: RunConfigInput['experts'] = { kind: 'mote', rank: 4 },
): Promise<Map<string, Float32Array>> {
  const run = resolveRunConfig({
    model: { base: STORIES_BIN, tokenizer: TOK512_BIN },
    experts,
    data: { train: join(dir, 'chains.jsonl') },
  });
  const { model } = await buildRunModel(run);
  try {
    run.model.config = { ...model.config };
    const rng = seedrandom('run-fixture');
    const trainable = new Map([...model.namedVariables()].filter(([, v]) => v.trainable));
    const values = new Map<string, Float32Array>();
    for (const [name, v] of trainable) {
      const data = Float32Array.from({ length: v.size }, () => (rng() - 0.5) * 0.02);
      values.set(name, data);
      tf.tidy(() => v.assign(tf.tensor(data, v.shape, 'float32')));
    }
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'config.json'), `${JSON.stringify(run, null, 2)}\n`);
    await saveCheckpoint({
      outDir: dir,
      step: 7,
      variables: trainable,
      kind: 'adapters',
      base: { path: STORIES_BIN },
      config: run,
    });
    return values;
  } finally {
    model.dispose();
  }
}

/**
 * Runs one command in-process with yargs (as main.ts registers it) and returns the error message it fails with:
 * for argument and input errors that need no child process.
 */
export async function commandError(command: CommandModule<object, never>, args: string[]): Promise<string> {
  try {
    await yargs(args).command(command).strict().exitProcess(false).fail(false).parseAsync();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error(`expected ${args.join(' ')} to fail`);
}
