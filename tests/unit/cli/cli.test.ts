// The `mote` command driven as a user would: a child process, stdout/stderr and exit codes.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { GOLDEN_200 } from '../../helpers/golden.js';
import { ROOT } from '../../helpers/index.js';

const exec = promisify(execFile);
const mote = (...args: string[]) =>
  exec(process.execPath, ['--import', 'tsx', `${ROOT}src/cli/main.ts`, ...args], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: '1' },
  });

describe('mote CLI', () => {
  it('generate --temperature 0 prints the llama2.c golden text', async () => {
    const { stdout, stderr } = await mote(
      'generate',
      '--temperature',
      '0',
      '--max-tokens',
      '60',
      '--backend',
      'wasm',
    );
    expect(GOLDEN_200.startsWith(stdout.trimEnd())).toBe(true);
    expect(stdout.length).toBeGreaterThan(150);
    expect(stderr).toMatch(/backend: wasm/);
    expect(stderr).toMatch(/60 tokens in/);
  });

  it('info prints JSON with the backend and a model summary', async () => {
    const { stdout } = await mote(
      'info',
      '--backend',
      'cpu',
      '--model',
      'models/stories260K/stories260K.bin',
      '--tokenizer',
      'models/stories260K/tok512.bin',
    );
    const info = JSON.parse(stdout);
    expect(info.backend).toBe('cpu');
    expect(info.model).toMatchObject({ dim: 64, numLayers: 5, parameters: 260_032 });
    expect(info.tokenizer.vocabSize).toBe(512);
  });

  it.each([
    [['generate', '--temprature', '0'], /Unknown argument: temprature/],
    [['generate', '--backend', 'tpu'], /Invalid values:[\s\S]*backend[\s\S]*tpu/],
    [['generate', '--top-p', '2'], /topP = 2; expected a number in \(0, 1\]/],
    [['generate', '--model', 'nope.bin'], /model file not found: nope.bin/],
  ])('rejects bad input %j with a clear message and exit code 1', async (args, message) => {
    const err = await mote(...args).then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    );
    expect(err?.code).toBe(1);
    expect(err?.stderr).toMatch(message);
  });
});
