// `mote train` driven as a user would: a child process on a few short chains with stories260K; the files it
// writes, resume, Ctrl-C (SIGINT → checkpoint, exit 130), refusals that leave checkpoints alone, config errors.
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_CHAINS } from '../../helpers/chains.js';
import { ROOT } from '../../helpers/index.js';

const exec = promisify(execFile);
const ARGS = ['--import', 'tsx', `${ROOT}src/cli/main.ts`];
const ENV = { ...process.env, NO_COLOR: '1', CI: 'true' };
const mote = (...args: string[]) => exec(process.execPath, [...ARGS, ...args], { cwd: ROOT, env: ENV });
/** Runs `mote`, expecting failure; returns exit code and stderr. */
const moteFails = (...args: string[]) =>
  mote(...args).then(
    () => ({ code: 0, stderr: '' }),
    (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
  );

const CHAINS = SAMPLE_CHAINS;

let dir: string;
let chains: string;
const common = () => [
  '--data',
  chains,
  '--max-len',
  '64',
  '--batch-size',
  '4',
  '--lr',
  '1e-2',
  '--backend',
  'wasm',
];
const lines = async (path: string) =>
  (await readFile(path, 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mote-train-cli-'));
  chains = join(dir, 'chains.jsonl');
  await writeFile(chains, CHAINS.map((c) => JSON.stringify(c)).join('\n'));
});

describe('mote train', () => {
  it('writes config.json, metrics.jsonl, loss.svg and a checkpoint; --resume continues; refusals change nothing', async () => {
    const out = join(dir, 'run');
    const first = await mote(
      'train',
      '--out',
      out,
      ...common(),
      '--eval-fraction',
      '0.25',
      '--max-steps',
      '3',
    );
    const summary = JSON.parse(first.stdout);
    expect(summary).toMatchObject({ step: 3, stopped: false, experts: 'mote' });
    expect(summary.trainableParameters).toBeGreaterThan(0);
    expect(Object.keys(summary.train.byStage)).toEqual(expect.arrayContaining(['analysis', 'answer']));
    expect(first.stderr).toMatch(/"learningRate": 0\.01/); // the resolved config is printed
    expect(first.stderr).toMatch(/"workers": "auto"/);
    expect(first.stderr).toMatch(/, in-process \(auto: .* parameter·tokens per step < /); // a small run
    expect(first.stderr).toMatch(/held-out loss: .* before → .* after/);

    const config = JSON.parse(await readFile(join(out, 'config.json'), 'utf8'));
    expect(config.train).toMatchObject({ learningRate: 0.01, batchSize: 4, maxSteps: 3, epochs: 3 });
    expect(config.experts).toMatchObject({ kind: 'mote', rank: 16, shared: true });
    expect(config.model.config.vocabSize).toBe(518); // tok512 + 6 step tokens
    const metrics = await lines(join(out, 'metrics.jsonl'));
    expect(metrics.filter((m) => m.type === 'step').map((m) => m.step)).toEqual([1, 2, 3]);
    expect(metrics.filter((m) => m.type === 'eval').map((m) => m.step)).toEqual([0, 3]);
    const svg = await readFile(join(out, 'loss.svg'), 'utf8');
    expect(svg).toMatch(/^<svg/);
    expect(svg).toContain('train analysis');
    expect(await readdir(join(out, 'checkpoints'))).toEqual(expect.arrayContaining(['latest', 'step-3']));

    // resume: the saved config is the base layer, flags override it (here on 2 workers)
    const second = await mote(
      'train',
      '--out',
      out,
      '--resume',
      '--max-steps',
      '5',
      '--workers',
      '2',
      '--backend',
      'wasm',
    );
    expect(JSON.parse(second.stdout)).toMatchObject({ step: 5, stepsThisRun: 2 });
    expect(second.stderr).toMatch(/resumed from step 3/);
    expect(second.stderr).toMatch(/warning: resuming with a changed setting: train\.workers: "auto" → 2/);
    expect(second.stderr).toMatch(/, 2 workers, resumed from step 3/);
    expect(JSON.parse(await readFile(join(out, 'config.json'), 'utf8')).train.workers).toBe(2);
    const resumed = await lines(join(out, 'metrics.jsonl'));
    expect(resumed.filter((m) => m.type === 'step').map((m) => m.step)).toEqual([1, 2, 3, 4, 5]);

    // refusals: an existing run without --resume, another adapter shape, empty data; no checkpoint changes
    const before = await stat(join(out, 'checkpoints', 'step-5', 'state.json'));
    const again = await moteFails('train', '--out', out, ...common());
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already holds a checkpoint .*pass --resume/);
    const rank = await moteFails('train', '--out', out, '--resume', '--rank', '8', '--backend', 'wasm');
    expect(rank.code).toBe(1);
    expect(rank.stderr).toMatch(
      /shape differs from the checkpoint's[\s\S]*experts\.rank: checkpoint 16, this run 8/,
    );
    const empty = join(dir, 'empty.jsonl');
    await writeFile(empty, '');
    const none = await moteFails('train', '--out', out, '--resume', '--data', empty, '--eval-fraction', '0');
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/no chains to train on/);
    expect(await readdir(join(out, 'checkpoints'))).toEqual(expect.arrayContaining(['step-3', 'step-5']));
    expect((await stat(join(out, 'checkpoints', 'step-5', 'state.json'))).mtimeMs).toBe(before.mtimeMs);
  });

  it('Ctrl-C (SIGINT) mid-run saves a resumable checkpoint and exits 130', async () => {
    const out = join(dir, 'interrupted');
    const child = spawn(process.execPath, [...ARGS, 'train', '--out', out, ...common(), '--epochs', '50'], {
      cwd: ROOT,
      env: ENV,
    });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => {
      if (!/^step \d/m.test(stderr) && /^step \d/m.test(stderr + b)) child.kill('SIGINT');
      stderr += b;
    });
    const code = await new Promise<number | null>((done) => child.on('close', done));
    expect(code).toBe(130);
    expect(stderr).toMatch(/interrupted: saving a checkpoint/);
    const step = Number(/stopped at step (\d+)/.exec(stderr)?.[1]);
    expect(step).toBeGreaterThanOrEqual(1);
    expect(step).toBeLessThan(100); // 50 epochs × 2 steps: far from done
    expect(stderr).toContain(`resume with: mote train --out ${out} --resume`);
    const latest = (await readFile(join(out, 'checkpoints', 'latest'), 'utf8')).trim();
    expect(latest).toBe(`step-${step}`);
    const state = JSON.parse(await readFile(join(out, 'checkpoints', latest, 'state.json'), 'utf8'));
    expect(state.data).toMatchObject({ step });

    const resumed = await mote(
      'train',
      '--out',
      out,
      '--resume',
      '--max-steps',
      String(step + 1),
      '--backend',
      'wasm',
    );
    expect(JSON.parse(resumed.stdout)).toMatchObject({ step: step + 1, stepsThisRun: 1, stopped: false });
  });

  it('a bad config file key → a clear error naming the key path, exit 1, nothing written', async () => {
    const file = join(dir, 'bad.json');
    await writeFile(file, JSON.stringify({ train: { learningRat: 1 } }));
    const r = await moteFails('train', '--out', join(dir, 'never'), '--data', chains, '--config', file);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /unknown key "train\.learningRat"; allowed keys in train: epochs, learningRate,/,
    );
    expect(await stat(join(dir, 'never')).catch(() => null)).toBeNull();
  });

  it('rejects an unknown flag (yargs strict)', async () => {
    const r = await moteFails('train', '--out', join(dir, 'never'), '--learning-rate', '1');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Unknown arguments?: learning-rate/);
  });
});
