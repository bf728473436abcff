// The run configuration (run/config.ts): layers checked key by key, merged defaults < file < flags, resolved with
// the library's resolvers; the resume checks that refuse another shape and warn about other changed settings.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { resolveModelConfig } from '../../../src/model/config.js';
import {
  mergeRunConfig,
  type RunConfig,
  type RunConfigInput,
  readRunConfigFile,
  resolveRunConfig,
  settingChanges,
  shapeMismatches,
} from '../../../src/run/config.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mote-run-config-'));
});

describe('run config (run/config.ts)', () => {
  const resolveFile = async (body: unknown, flags: RunConfigInput = {}) => {
    const file = join(dir, 'run.json');
    await writeFile(file, JSON.stringify(body));
    const base: RunConfigInput = { model: { base: 'm.bin', tokenizer: 't.bin' } };
    return resolveRunConfig(mergeRunConfig(base, await readRunConfigFile(file), flags));
  };

  it.each([
    [
      { train: { learningRat: 1 } },
      /unknown key "train\.learningRat"; allowed keys in train: epochs, learningRate,/,
    ],
    [{ trian: {} }, /unknown key "trian"; allowed keys: model, experts, train, data/],
    [{ experts: { rnak: 4 } }, /unknown key "experts\.rnak"; allowed keys in experts: kind, rank,/],
    [{ data: [] }, /"data" must be an object, got an array/],
    [
      { model: { config: { dims: 3 } }, data: { train: 'c.jsonl' } },
      /model\.config\.dims = 3; expected a known key/,
    ],
    [
      { train: { epochs: '3' }, data: { train: 'c.jsonl' } },
      /invalid config: train\.epochs = "3"; expected an integer ≥ 1/,
    ],
    [
      { experts: { preset: 'big' }, data: { train: 'c.jsonl' } },
      /experts\.preset = "big"; expected one of single-lora/,
    ],
    [{ experts: { rank: 0 }, data: { train: 'c.jsonl' } }, /experts\.rank = 0; expected a positive integer/],
    [
      { data: { train: 'c.jsonl', eval: 'e.jsonl', evalFraction: 0.1 } },
      /data\.evalFraction = 0\.1; expected 0 when/,
    ],
    [{ train: { maxSteps: 0 }, data: { train: 'c.jsonl' } }, /train\.maxSteps = 0; expected an integer ≥ 1/],
    [
      { train: { workers: 'all' }, data: { train: 'c.jsonl' } },
      /train\.workers = "all"; expected an integer ≥ 1, or 'auto'/,
    ],
    [{}, /data\.train = undefined; expected a chains JSONL path/],
  ])('%j → a clear error', async (body, message) => {
    await expect(resolveFile(body)).rejects.toThrow(message);
  });

  it('merges defaults < file < flags, resolves presets and paths relative to the file', async () => {
    const run = await resolveFile(
      {
        experts: { preset: 'lora-rank2x' },
        train: { epochs: 2, learningRate: 1e-3 },
        data: { train: 'c.jsonl' },
      },
      { train: { learningRate: 5e-4, seed: 7 } },
    );
    expect(run.experts).toMatchObject({ kind: 'lora', rank: 32, loraAlpha: 32, seed: 7 });
    expect(run.train).toMatchObject({
      epochs: 2,
      learningRate: 5e-4,
      seed: 7,
      maxSteps: null,
      microBatchSize: 16,
    });
    expect(run.data).toMatchObject({
      train: join(dir, 'c.jsonl'),
      eval: null,
      onOverflow: 'truncate-reasoning',
    });
    const full = await resolveFile({ experts: { kind: 'none' }, data: { train: 'c.jsonl' } });
    expect(full.experts).toBeNull(); // full fine-tuning
    // a saved full fine-tuning run (experts null) merges under later layers like any other
    expect(resolveRunConfig(mergeRunConfig({ ...full }, {})).experts).toBeNull();
  });

  it('resume checks: adapter/model shape refuses, other settings only warn', async () => {
    const saved = await resolveFile({ data: { train: 'c.jsonl' } });
    saved.model.config = resolveModelConfig({}, 'stories260K');
    const same = { ...saved, train: { ...saved.train, learningRate: 1 } };
    expect(shapeMismatches(saved, same)).toEqual([]);
    expect(settingChanges(saved, same)).toEqual(['train.learningRate: 0.00002 → 1']);
    const other = { ...saved, experts: { ...saved.experts, shared: false } as RunConfig['experts'] };
    expect(shapeMismatches(saved, other)).toEqual(['experts.shared: checkpoint true, this run false']);
    const full: RunConfig = {
      ...saved,
      model: { ...saved.model, config: { ...saved.model.config, dim: 8 } },
    };
    expect(shapeMismatches(saved, { ...full, experts: null })).toEqual([
      'model.config.dim: checkpoint 64, this run 8',
      'experts.kind: checkpoint "mote", this run "none (full fine-tuning)"',
    ]);
    // a checkpoint saved before a model key existed compares as that key's default
    const older = { ...saved, model: { ...saved.model, config: { ...saved.model.config } } };
    delete (older.model.config as Partial<typeof saved.model.config>).headDim;
    expect(shapeMismatches(older, saved)).toEqual([]);
    // older run directories saved full fine-tuning as { kind: 'none' }
    expect(shapeMismatches({ ...saved, experts: { kind: 'none' } }, { ...saved, experts: null })).toEqual([]);
  });
});
