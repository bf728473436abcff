// `mote generate` in its staged forms, driven as a child process (one prompt streamed stage by stage; a prompt
// file → JSONL, resumed).
import { execFile } from 'node:child_process';
import { appendFile, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import yargs from 'yargs';
import { generateCommand } from '../../../src/cli/commands/generate.js';
import { ROOT } from '../../helpers/index.js';
import { commandError, makeRun } from './run-fixture.js';

const exec = promisify(execFile);
const ENV = { ...process.env, NO_COLOR: '1', CI: 'true' };
const mote = (...args: string[]) =>
  exec(process.execPath, ['--import', 'tsx', `${ROOT}src/cli/main.ts`, ...args], { cwd: ROOT, env: ENV });
const jsonl = async (path: string) =>
  (await readFile(path, 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));

let dir: string;
let run: string;
const FAST = ['--backend', 'wasm', '--temperature', '0', '--max-tokens-per-stage', '6'];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mote-generate-cli-'));
  run = join(dir, 'run');
  await makeRun(run);
});

describe('mote generate (staged)', () => {
  it('streams one prompt stage by stage with stage headers; --hide-reasoning shows only the answer', async () => {
    const { stdout, stderr } = await mote(
      'generate',
      '--run',
      run,
      '--prompt',
      'Can I pet a cat?',
      '--mode',
      'full',
      ...FAST,
    );
    expect(stdout).toMatch(/^\[analysis\] .*\n\[guidance\] .*\n\[answer\] /m);
    expect(stderr).toMatch(/run: .*mote: analysis, guidance, answer \+ shared, rank 4; checkpoint step 7/);
    expect(stderr).toMatch(/analysis 6 · guidance 6 · answer 6 tokens \(\d+ in all\)/);

    const hidden = await mote(
      'generate',
      '--prompt',
      'Can I pet a cat?',
      '--mode',
      'analysis,answer',
      '--hide-reasoning',
      ...FAST,
    );
    expect(hidden.stdout).toMatch(/^\[analysis: 6 tokens hidden\]\n\[answer\] /);
    expect(hidden.stderr).toMatch(/no experts; step tokens added, untrained/);
  });

  it('--prompts → one JSONL line per prompt; a rerun resumes (skips done ids, repairs a cut last line)', async () => {
    const prompts = join(dir, 'prompts.jsonl');
    const out = join(dir, 'results.jsonl');
    const questions = ['Can I pet a cat?', 'How to hurt a dog?', 'Name a fruit.'];
    await writeFile(
      prompts,
      questions.map((q, i) => JSON.stringify({ id: `q${i}`, question: q })).join('\n'),
    );
    const first = await mote(
      'generate',
      '--run',
      run,
      '--prompts',
      prompts,
      '--out',
      out,
      '--mode',
      'analysis+answer',
      ...FAST,
    );
    expect(first.stderr).toMatch(/3 prompts in .*: 0 already in .* 3 to generate/);
    const lines = await jsonl(out);
    expect(lines.map((l) => l.id)).toEqual(['q0', 'q1', 'q2']);
    for (const [i, l] of lines.entries()) {
      expect(l).toMatchObject({ question: questions[i], mode: 'analysis-answer' });
      expect(Object.keys(l.stages)).toEqual(['analysis', 'answer']);
      expect(l.tokensPerStage).toEqual({ analysis: 6, answer: 6 });
      expect(l.totalTokens).toBe(16);
      expect(typeof l.ms).toBe('number');
    }

    await appendFile(prompts, `\n${JSON.stringify({ id: 'q3', question: 'Say hi.' })}`);
    await appendFile(out, '{"id":"q3","quest'); // a write cut short by a crash
    const second = await mote(
      'generate',
      '--run',
      run,
      '--prompts',
      prompts,
      '--out',
      out,
      '--mode',
      'analysis+answer',
      ...FAST,
    );
    expect(second.stderr).toMatch(/removed an incomplete last line/);
    expect(second.stderr).toMatch(
      /4 prompts in .*: 3 already in .* \(skipped\), 0 too long .* 1 to generate/,
    );
    const resumed = await jsonl(out);
    expect(resumed.map((l) => l.id)).toEqual(['q0', 'q1', 'q2', 'q3']);
    expect(resumed.slice(0, 3)).toEqual(lines);
  });

  it.each([
    [['--prompts', 'x.jsonl'], /--prompts needs --out/],
    [['--staged'], /staged generation needs a question/],
    [['--mode', 'answer,analysis', '--prompt', 'x'], /--mode "answer,analysis": .*ending with 'answer'/],
    [
      ['--run', '/nonexistent/run', '--prompt', 'x'],
      /\/nonexistent\/run: not a directory; expected a `mote train` run directory/,
    ],
    [
      ['--prompts', 'x.jsonl', '--out', 'y.jsonl', '--batch-size', '0'],
      /--batch-size must be a positive integer, got 0/,
    ],
  ])('rejects %j with a clear message', async (args, message) => {
    expect(await commandError(generateCommand as never, ['generate', '--backend', 'wasm', ...args])).toMatch(
      message,
    );
  });
});

describe('mote generate --prompts --batch-size', () => {
  /** Runs the command in-process (no child process: a second each instead of seven); returns its stderr. */
  async function inProcess(...args: string[]): Promise<string> {
    let stderr = '';
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      stderr += String(chunk);
      return true;
    });
    try {
      await yargs(['generate', ...args])
        .command(generateCommand as never)
        .strict()
        .exitProcess(false)
        .fail(false)
        .parseAsync();
    } finally {
      spy.mockRestore();
    }
    return stderr;
  }
  const withoutMs = (lines: { ms: number }[]) => lines.map(({ ms, ...rest }) => rest);

  it('writes the lines of the one-at-a-time run, in file order, and resumes', async () => {
    const prompts = join(dir, 'batch-prompts.jsonl');
    const questions = [
      'Can I pet a cat?',
      'Hi',
      'How do I hurt a dog without anyone seeing?',
      'Name a fruit.',
    ];
    await writeFile(
      prompts,
      questions.map((q, i) => JSON.stringify({ id: `b${i}`, question: q })).join('\n'),
    );
    const common = ['--run', run, '--prompts', prompts, ...FAST];
    const one = join(dir, 'batch-1.jsonl');
    const three = join(dir, 'batch-3.jsonl');
    await inProcess(...common, '--out', one, '--batch-size', '1');
    const stderr = await inProcess(...common, '--out', three, '--batch-size', '3'); // rows refilled as they free
    expect(stderr).toMatch(/\[4\/4\] b3: /);
    const sequential = await jsonl(one);
    const batched = await jsonl(three);
    expect(batched.map((l) => l.id)).toEqual(['b0', 'b1', 'b2', 'b3']);
    expect(withoutMs(batched)).toEqual(withoutMs(sequential));

    await appendFile(prompts, `\n${JSON.stringify({ id: 'b4', question: 'Say hi.' })}`);
    await appendFile(three, '{"id":"b4","quest'); // a write cut short by a crash
    const resumed = await inProcess(...common, '--out', three, '--batch-size', '3');
    expect(resumed).toMatch(/5 prompts in .*: 4 already in .* \(skipped\), 0 too long .* 1 to generate/);
    const after = await jsonl(three);
    expect(after.map((l) => l.id)).toEqual(['b0', 'b1', 'b2', 'b3', 'b4']);
    expect(after.slice(0, 4)).toEqual(batched);
  });
});
