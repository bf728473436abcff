// Loading a run back without the CLI (run/load.ts): the model rebuilt from its base, step tokens and experts with
// the checkpoint restored, a base model with the step tokens for inference, and what a broken run directory lacks.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { getExperts } from '../../../src/experts/attach.js';
import { loadForInference, loadRun } from '../../../src/run/load.js';
import { STORIES_BIN, TOK512_BIN } from '../../helpers/index.js';
import { makeRun } from '../cli/run-fixture.js';

let dir: string;
let run: string;
let saved: Map<string, Float32Array>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mote-run-load-'));
  run = join(dir, 'run');
  saved = await makeRun(run);
});

describe('loadForInference (run/load.ts)', () => {
  it('rebuilds a run (base, step tokens, experts) and restores its latest checkpoint', async () => {
    const im = await loadForInference({ run, model: STORIES_BIN, tokenizer: TOK512_BIN });
    try {
      expect(im).toMatchObject({ experts: { kind: 'mote', rank: 4 }, run: { step: 7 }, name: 'run' });
      expect(im.description).toMatch(/checkpoint step 7/);
      expect(getExperts(im.model)?.config.rank).toBe(4);
      expect(im.tokenizer.vocabSize).toBe(518);
      const vars = im.model.namedVariables();
      expect(saved.size).toBeGreaterThan(10);
      for (const [name, values] of saved) expect(vars.get(name)?.dataSync()).toEqual(values);
    } finally {
      im.model.dispose();
    }
  });

  it('without a run: the base model with the step tokens added, no experts', async () => {
    const im = await loadForInference({ model: STORIES_BIN, tokenizer: TOK512_BIN });
    expect(im).toMatchObject({ experts: null, run: null, name: 'stories260K' });
    expect(im.model.config.vocabSize).toBe(518);
    im.model.dispose();
  });

  it('names what is missing in a run directory', async () => {
    await expect(loadRun(join(dir, 'nope'))).rejects.toThrow(
      /not a directory; expected a `mote train` run directory/,
    );
    await expect(loadRun(dir)).rejects.toThrow(
      /no complete checkpoint in .*checkpoints \(and no state\.json\)/,
    );
    const bare = join(dir, 'bare');
    await makeRun(bare);
    await writeFile(join(bare, 'checkpoints', 'latest'), 'step-99');
    await rm(join(bare, 'checkpoints', 'step-7'), { recursive: true });
    await expect(loadRun(bare)).rejects.toThrow(/no complete checkpoint in .*train it first/);
  });
});
