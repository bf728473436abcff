// `mote pretrain` as a child process on ~60 KB of HH-RLHF text with a tiny model: the files it writes (model.bin +
// tokenizer.json and the HF directory load as the same model), --resume,
// refusals that change nothing, and `mote train` fine-tuning the result (model.bin + tokenizer.json, with the
// step tokens added to the BPE tokenizer).
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { llama2cFileSize } from '../../../src/io/llama2c.js';
import { loadModel } from '../../../src/io/load-node.js';
import { SAMPLE_CHAINS } from '../../helpers/chains.js';
import { expectClose, ROOT } from '../../helpers/index.js';
import { hhRlhfTexts } from '../tokenizer/corpus.js';

const exec = promisify(execFile);
const ARGS = ['--import', 'tsx', `${ROOT}src/cli/main.ts`];
const ENV = { ...process.env, NO_COLOR: '1', CI: 'true' };
const mote = (...args: string[]) => exec(process.execPath, [...ARGS, ...args], { cwd: ROOT, env: ENV });
const moteFails = (...args: string[]) =>
  mote(...args).then(
    () => ({ code: 0, stderr: '' }),
    (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
  );
const lines = async (path: string) =>
  (await readFile(path, 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));

const TINY = ['--dim', '32', '--layers', '2', '--heads', '4', '--kv-heads', '2', '--hidden', '88'];
const CHAINS = SAMPLE_CHAINS.slice(0, 4);

let dir: string;
let corpus: string;
let out: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mote-pretrain-cli-'));
  corpus = join(dir, 'corpus.jsonl');
  await writeFile(
    corpus,
    hhRlhfTexts(60_000)
      .map((text) => JSON.stringify({ text }))
      .join('\n'),
  );
  out = join(dir, 'run');
});

describe('mote pretrain', () => {
  it('writes tokenizer.json, model.bin, config, metrics, plot and a checkpoint, and prints a summary', async () => {
    const { stdout, stderr } = await mote(
      'pretrain',
      '--out',
      out,
      '--corpus',
      corpus,
      '--vocab-size',
      '320',
      ...TINY,
      '--seq-len',
      '64',
      '--batch-size',
      '4',
      '--lr',
      '1e-2',
      '--max-steps',
      '3',
      '--sample-tokens',
      '8',
      '--backend',
      'wasm',
    );
    const summary = JSON.parse(stdout);
    expect(summary).toMatchObject({ step: 3, corpus: { vocabSize: 320 } });
    expect(summary.loss.first).toBeGreaterThan(5);
    expect(summary.eval.before).toBeGreaterThan(summary.eval.after - 0.5);
    expect(summary.tokensPerSec).toBeGreaterThan(0);
    expect(summary.sample.startsWith('\n\nHuman: Can you help me')).toBe(true);
    expect(stderr).toMatch(/tokenizer: 61 merges/);
    expect(stderr).toMatch(/fine-tune it: mote train --base .*model\.bin --tokenizer .*tokenizer\.json/);

    const files = await readdir(out);
    expect(files).toEqual(
      expect.arrayContaining([
        'tokenizer.json',
        'tokenizer_config.json',
        'config.json',
        'metrics.jsonl',
        'loss.svg',
        'model.bin',
        'checkpoints',
        'hf',
      ]),
    );
    const config = JSON.parse(await readFile(join(out, 'config.json'), 'utf8'));
    expect(config.corpus).toEqual({ path: corpus, textField: 'text' });
    expect(config.config.model).toMatchObject({ dim: 32, numLayers: 2, vocabSize: 320, maxSeqLen: 64 });
    expect((await stat(join(out, 'model.bin'))).size).toBe(llama2cFileSize(config.config.model));
    const metrics = await lines(join(out, 'metrics.jsonl'));
    expect(metrics.filter((m) => m.type === 'step').map((m) => m.step)).toEqual([1, 2, 3]);
    expect(metrics.filter((m) => m.type === 'eval').map((m) => m.step)).toEqual([0, 3]);
    expect(await readFile(join(out, 'loss.svg'), 'utf8')).toMatch(/^<svg/);
    expect(await readdir(join(out, 'checkpoints'))).toEqual(expect.arrayContaining(['latest', 'step-3']));

    // the HF directory holds the same model and tokenizer
    const bin = await loadModel(join(out, 'model.bin'), { tokenizer: join(out, 'tokenizer.json') });
    const hf = await loadModel(join(out, 'hf'));
    const ids = bin.tokenizer.encode('\n\nHuman: Hello there!', { bos: true });
    expect(hf.tokenizer.encode('\n\nHuman: Hello there!', { bos: true })).toEqual(ids);
    const [a, b] = [bin.model.logits([ids]), hf.model.logits([ids])];
    expectClose(b, a, 1e-6, 1e-6);
    tf.dispose([a, b]);
    bin.model.dispose();
    hf.model.dispose();
  });

  it('refuses to overwrite a run or to resume with another shape; --resume continues', async () => {
    const modelTime = (await stat(join(out, 'model.bin'))).mtimeMs;
    const again = await moteFails('pretrain', '--out', out, '--corpus', corpus, '--max-steps', '1');
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already holds a checkpoint .*pass --resume/);
    const reshaped = await moteFails('pretrain', '--out', out, '--resume', '--dim', '64');
    expect(reshaped.stderr).toMatch(/--resume: model differ from .*config\.json/);
    expect((await stat(join(out, 'model.bin'))).mtimeMs).toBe(modelTime);

    const { stdout } = await mote(
      'pretrain',
      '--out',
      out,
      '--resume',
      '--max-steps',
      '4',
      '--sample-tokens',
      '0',
      '--backend',
      'wasm',
    );
    expect(JSON.parse(stdout)).toMatchObject({ step: 4, sample: '\n\nHuman: Can you help me' });
    const metrics = await lines(join(out, 'metrics.jsonl'));
    expect(metrics.filter((m) => m.type === 'step').map((m) => m.step)).toEqual([1, 2, 3, 4]);
  });

  it('gives a base that mote train fine-tunes (step tokens added to the BPE tokenizer)', async () => {
    const chains = join(dir, 'chains.jsonl');
    await writeFile(chains, CHAINS.map((c) => JSON.stringify(c)).join('\n'));
    const ft = join(dir, 'ft');
    const { stdout } = await mote(
      'train',
      '--base',
      join(out, 'model.bin'),
      '--tokenizer',
      join(out, 'tokenizer.json'),
      '--data',
      chains,
      '--out',
      ft,
      '--max-len',
      '64',
      '--batch-size',
      '4',
      '--max-steps',
      '1',
      '--backend',
      'wasm',
    );
    expect(JSON.parse(stdout)).toMatchObject({ step: 1, experts: 'mote' });
    const config = JSON.parse(await readFile(join(ft, 'config.json'), 'utf8'));
    expect(config.model.config.vocabSize).toBe(326); // 320 + 6 step tokens
  });
});
