// Fault injection, class 1: non-finite numbers. NaN written into real files (a run checkpoint's adapters, a
// llama2.c model, moments) and NaN produced by training (a learning rate of 1e39). Loading is an error naming the
// file and the tensor unless allowed (then a warning); sampling from non-finite logits is an error, never `<unk>`
// text nor a crash of the staged state machine; a NaN stop never saves, nor names, a non-finite checkpoint.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { generate } from '../../src/generate/generate.js';
import { checkLogits, createSampler, NonFiniteLogitsError } from '../../src/generate/sampler.js';
import { generateStagedText } from '../../src/generate/staged.js';
import { loadBase } from '../../src/run/base.js';
import { loadRun } from '../../src/run/load.js';
import { planRun, trainRun } from '../../src/run/train.js';
import { checkpointsDir, readCheckpoint, saveCheckpoint } from '../../src/train/checkpoint.js';
import { checkFiniteTensors, NonFiniteTensorError } from '../../src/util/finite.js';
import { STORIES_BIN, TOK512_BIN } from '../helpers/index.js';
import { makeRun } from '../unit/cli/run-fixture.js';
import { mote, nanStories, poisonSafetensors, tempDir, writeChains } from './helpers.js';

let dir: string;
let nan: { model: string; tokenizer: string };
beforeAll(async () => {
  dir = await tempDir('nan');
  nan = await nanStories(dir);
});

describe('loading non-finite weights', () => {
  it('a base model: an error naming the file and the tensor; allowed, a warning, then sampling refuses', async () => {
    await expect(loadBase(nan)).rejects.toThrow(
      `${nan.model}: tensor blocks.0.attnNorm.weight holds 1 non-finite values (NaN or ±Inf) of 64`,
    );
    const warnings: string[] = [];
    const base = await loadBase(nan, { allowNonFinite: true, onWarning: (m) => warnings.push(m) });
    try {
      expect(warnings).toEqual([expect.stringMatching(/blocks\.0\.attnNorm\.weight .* loaded anyway/)]);
      // greedy used to pick id 0 on all-NaN logits (`<unk><unk>…`); staged decoding used to crash on it
      await expect(generate(base.model, base.tokenizer, 'Once', { temperature: 0 })).rejects.toThrow(
        NonFiniteLogitsError,
      );
      await expect(generate(base.model, base.tokenizer, 'Once', { temperature: 1 })).rejects.toThrow(
        /next-token logits hold \d+ NaN/,
      );
      await expect(generateStagedText(base.model, base.tokenizer, 'Hi?', { temperature: 0 })).rejects.toThrow(
        NonFiniteLogitsError,
      );
    } finally {
      base.model.dispose();
    }
  });

  it('a run checkpoint with NaN adapters or moments: an error naming the file and the tensor', async () => {
    const run = join(dir, 'run');
    await makeRun(run);
    const weights = join(checkpointsDir(run), 'step-7', 'adapters.safetensors');
    const tensor = await poisonSafetensors(weights, undefined, Number.POSITIVE_INFINITY, 3);
    await expect(loadRun(run)).rejects.toThrow(
      new RegExp(`^${weights}: tensor ${tensor.replace(/\./g, '\\.')} holds 1 non-finite values`),
    );
    const warnings: string[] = [];
    const loaded = await loadRun(run, {}, { allowNonFinite: true, onWarning: (m) => warnings.push(m) });
    loaded.model.dispose();
    expect(warnings).toHaveLength(1);

    // optimizer moments are checked as well
    const out = join(dir, 'moments');
    const w = tf.variable(tf.tensor([1, 2]));
    await saveCheckpoint({
      outDir: out,
      step: 1,
      variables: new Map([['w', w]]),
      optimizer: {
        step: 1,
        slots: new Map([['w', { shape: [2], m: new Float32Array(2), v: new Float32Array(2), step: 1 }]]),
      },
    });
    await poisonSafetensors(join(checkpointsDir(out), 'step-1', 'optimizer.safetensors'), 'v.w');
    await expect(readCheckpoint(join(checkpointsDir(out), 'step-1'))).rejects.toThrow(
      /optimizer\.safetensors: tensor v\.w holds 1 non-finite values/,
    );
    w.dispose();
  });

  it('the CLI: exit 1 naming file and tensor; --allow-non-finite warns, then refuses to sample (no <unk> text)', async () => {
    const run = join(dir, 'cli-run');
    await makeRun(run);
    const weights = join(checkpointsDir(run), 'step-7', 'adapters.safetensors');
    const tensor = await poisonSafetensors(weights);
    const [plain, allowed, staged] = await Promise.all([
      mote(['generate', '--model', nan.model, '--prompt', 'Once', '--backend', 'wasm']),
      mote(['generate', '--model', nan.model, '--prompt', 'Once', '--allow-non-finite', '--backend', 'wasm']),
      mote(['generate', '--run', run, '--prompt', 'Hi?', '--allow-non-finite', '--backend', 'wasm']),
    ]);
    expect(plain.code).toBe(1);
    expect(plain.stderr).toContain(
      `mote: ${nan.model}: tensor blocks.0.attnNorm.weight holds 1 non-finite values`,
    );
    expect(allowed.code).toBe(1);
    expect(allowed.stderr).toMatch(/warning: .*blocks\.0\.attnNorm\.weight .*loaded anyway/);
    expect(allowed.stderr).toMatch(/mote: the model's next-token logits hold 512 NaN/);
    expect(allowed.stdout).not.toContain('<unk>');
    expect(staged.code).toBe(1);
    expect(staged.stderr).toContain(`${weights}: tensor ${tensor} holds 1 non-finite values`);
    expect(staged.stderr).toMatch(/mote: the model's next-token logits hold \d+ NaN/);
    expect(staged.stderr).not.toMatch(/Cannot read properties/);
  });
});

describe('the check itself (util/finite.ts)', () => {
  it('counts NaN and ±Inf across chunks of a large tensor, names the tensor, leaks nothing', async () => {
    const buffer = tf.buffer([(1 << 22) * 2 + 5]); // three chunks
    buffer.set(Number.NaN, (1 << 22) + 3);
    buffer.set(Number.NEGATIVE_INFINITY, (1 << 23) + 4);
    const big = buffer.toTensor();
    const empty = tf.zeros([0]);
    const before = tf.memory().numTensors;
    await expect(
      checkFiniteTensors(
        new Map([
          ['empty', empty],
          ['big', big],
        ]),
        'weights',
      ),
    ).rejects.toThrow('weights: tensor big holds 2 non-finite values (NaN or ±Inf) of 8388613');
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([big, empty]);
  });
});

describe('sampling from non-finite logits', () => {
  it.each([
    ['NaN', [0, Number.NaN, 1]],
    ['+Inf', [0, Number.POSITIVE_INFINITY, 1]],
    ['every id banned (−Inf)', [Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY]],
  ])('%s: every sampler throws NonFiniteLogitsError', (_, values) => {
    const logits = Float32Array.from(values);
    expect(() => checkLogits(logits)).toThrow(NonFiniteLogitsError);
    for (const temperature of [0, 1])
      expect(() => createSampler({ temperature })(logits)).toThrow(NonFiniteLogitsError);
  });

  it('banned ids (−Inf) beside finite ones are fine', () => {
    expect(createSampler({ temperature: 0 })(Float32Array.from([Number.NEGATIVE_INFINITY, 2, 1]))).toBe(1);
  });
});

describe('a NaN stop', () => {
  it('never writes a non-finite checkpoint and names none as good (weights blow up at step 1)', async () => {
    const out = join(dir, 'blowup');
    const chains = await writeChains(dir);
    const real = await planRun(out, {
      layers: [
        {
          model: { base: STORIES_BIN, tokenizer: TOK512_BIN },
          experts: { kind: 'mote', rank: 2 },
          train: { learningRate: 1e39, batchSize: 4, saveEvery: 1, maxSteps: 3, seed: 0 },
          data: { train: chains, maxLen: 64 },
        },
      ],
    });
    const e = await trainRun(real).catch((x) => x);
    expect(e).toBeInstanceOf(NonFiniteTensorError);
    expect(e.message).toMatch(
      /^checkpoint .*step-1 not written, the weights after step 1 are not finite: tensor .* holds \d+ non-finite values .*; training stopped, no checkpoint was saved yet$/,
    );
    expect(await readdir(checkpointsDir(out)).catch(() => [])).toEqual([]);
  });

  it('after a resume from a non-finite checkpoint, names the last finite one, not the one it resumed', async () => {
    const out = join(dir, 'resumed-nan');
    const chains = await writeChains(dir);
    const layer = {
      model: { base: STORIES_BIN, tokenizer: TOK512_BIN },
      experts: { kind: 'mote' as const, rank: 2 },
      train: { learningRate: 1e-2, batchSize: 4, saveEvery: 1, maxSteps: 2, seed: 0 },
      data: { train: chains, maxLen: 64 },
    };
    await trainRun(await planRun(out, { layers: [layer] }));
    const step2 = join(checkpointsDir(out), 'step-2');
    await poisonSafetensors(join(step2, 'adapters.safetensors'), 'addedEmbedding');
    // refused by default, naming the file, the tensor and the other checkpoints
    await expect(planRun(out, { resume: true })).rejects.toThrow(
      /step-2\/adapters\.safetensors: tensor addedEmbedding holds 1 non-finite values .*the run has: step-1, step-2/,
    );
    const notes: string[] = [];
    const plan = await planRun(out, {
      resume: true,
      allowNonFinite: true,
      layers: [{ train: { maxSteps: 4 } }],
    });
    const e = await trainRun(plan, {
      allowNonFinite: true,
      onEvent: (x) => x.type === 'note' && notes.push(x.message),
    }).catch((x) => x);
    expect(
      notes.some((n) =>
        /warning: .*step-2\/adapters\.safetensors: tensor addedEmbedding .*loaded anyway/.test(n),
      ),
    ).toBe(true);
    expect(e.message).toBe(
      `loss is NaN at step 3; training stopped, the last good checkpoint is kept: ${join(checkpointsDir(out), 'step-1')}`,
    );
    expect((await stat(join(step2, 'state.json'))).isFile()).toBe(true); // nothing newer was written
    expect(await readFile(join(checkpointsDir(out), 'latest'), 'utf8')).toBe('step-2\n');
  });
});
