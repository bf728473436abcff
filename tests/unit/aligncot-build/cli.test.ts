// `mote aligncot build` as a user runs it: a child process against the scripted server on 127.0.0.1,
// stopped with Ctrl-C, then killed outright, then rerun to the end (in this process): every prompt exactly
// once. Option and input errors run the command in-process too (a child process costs seconds of start-up).
import { type ChildProcess, spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import yargs from 'yargs';
import { aligncotCommand } from '../../../src/cli/commands/aligncot.js';
import { ROOT } from '../../helpers/index.js';
import { closedPortUrl, type FakeServer, startFakeServer } from './fake-server.js';
import { readChains, tempDir } from './helpers.js';

const ARGS = [process.execPath, ['--import', 'tsx', `${ROOT}src/cli/main.ts`, 'aligncot']] as const;

let server: FakeServer;
beforeAll(async () => {
  server = await startFakeServer({ delayMs: 25 });
});
afterAll(() => server.close());

async function promptFile(n: number): Promise<{ dir: string; file: string; ids: string[] }> {
  const dir = await tempDir();
  const scripts = ['checks=S', 'checks=U,S', 'checks=U,U,S'];
  const ids = Array.from({ length: n }, (_, i) => `c${i}`);
  const lines = ids.map((id, i) =>
    JSON.stringify({ id, question: `Q ${id} [[key=${dir.slice(-6)}-${id} ${scripts[i % 3]}]]` }),
  );
  const file = join(dir, 'prompts.jsonl');
  await writeFile(file, `${lines.join('\n')}\n`);
  return { dir, file, ids };
}

/** Starts a build and resolves when the output has `lines` lines, with the running child. */
async function startAndWait(args: string[], out: string, lines: number): Promise<ChildProcess> {
  const child = spawn(ARGS[0], [...ARGS[1], ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  // up to 60 s: a child that imports tfjs through tsx takes seconds to start on a loaded 2-core machine
  for (let i = 0; i < 2400; i++) {
    const text = await readFile(out, 'utf8').catch(() => '');
    if (text.split('\n').length - 1 >= lines) return child;
    await new Promise((r) => setTimeout(r, 25));
  }
  child.kill('SIGKILL');
  throw new Error(`the build never wrote ${lines} lines`);
}

const exited = (child: ChildProcess) =>
  new Promise<{ code: number | null; signal: string | null; stdout: string }>((resolve) => {
    let stdout = '';
    child.stdout?.on('data', (d) => (stdout += d));
    child.on('exit', (code, signal) => resolve({ code, signal, stdout }));
  });

describe('mote aligncot build', () => {
  it('interrupted with SIGINT, killed with SIGKILL, rerun: every prompt exactly once', async () => {
    const { dir, file, ids } = await promptFile(18);
    const out = join(dir, 'chains.jsonl');
    const args = ['build', '--prompts', file, '--format', 'jsonl', '--out', out, '--generator', 'openai'];
    args.push('--endpoint', server.url, '--model', 'fake', '--concurrency', '2', '--request-retries', '1');

    const first = await startAndWait(args, out, 3);
    const firstExit = exited(first);
    first.kill('SIGINT');
    const r1 = await firstExit;
    expect(r1.code).toBe(130);
    const report1 = JSON.parse(r1.stdout);
    expect(report1.interrupted).toBe(true);
    const n1 = (await readChains(out)).length;
    expect(report1.remaining).toBe(18 - n1);

    const second = await startAndWait(args, out, n1 + 3);
    const secondExit = exited(second);
    second.kill('SIGKILL');
    expect((await secondExit).signal).toBe('SIGKILL');

    // the last rerun in this process (a third child process would only cost start-up time)
    const { stdout, stderr, error } = await inProcess([...args, '--report', join(dir, 'report.json')]);
    expect(error).toBeUndefined();
    const report = JSON.parse(stdout);
    const chains = await readChains(out);
    expect(chains.map((c) => c.id).sort()).toEqual([...ids].sort());
    expect(
      report.resumed +
        report.outcomes.direct +
        report.outcomes['after-analysis'] +
        report.outcomes['after-guidance'],
    ).toBe(18);
    expect(report.stats.chains).toBe(18);
    expect(JSON.parse(await readFile(join(dir, 'report.json'), 'utf8')).prompts).toBe(18);
    expect(stderr).toMatch(/aligncot build: 18 prompts, \d+ already done/);
    expect(stderr).toMatch(/chains\.jsonl: 18 chains, with analysis/);
  });

  it('sends the API key from the variable named by --api-key-env; templates --out writes the defaults', async () => {
    const { dir, file } = await promptFile(1);
    const args = [
      'build',
      '--prompts',
      file,
      '--format',
      'jsonl',
      '--out',
      join(dir, 'o.jsonl'),
      '--generator',
      'openai',
    ];
    process.env.MOTE_TEST_KEY = 'k-123';
    const run = await inProcess([
      ...args,
      '--endpoint',
      server.url,
      '--model',
      'fake',
      '--api-key-env',
      'MOTE_TEST_KEY',
    ]);
    delete process.env.MOTE_TEST_KEY;
    expect(run.error).toBeUndefined();
    expect(JSON.parse(run.stdout).outcomes.direct).toBe(1);
    expect(server.requests.at(-1)?.authorization).toBe('Bearer k-123');
    expect(server.requests.at(-1)?.body.model).toBe('fake');
    const templates = await inProcess(['templates', '--out', join(dir, 'templates')]);
    expect(templates.stdout.trim().split('\n')).toHaveLength(5);
    expect(await readFile(join(dir, 'templates', 'check.txt'), 'utf8')).toMatch(/SAFE or UNSAFE/);
  });

  it('rejects bad options, a prompt file of the wrong kind and an unreachable endpoint with a clear message', async () => {
    const { dir, file } = await promptFile(2);
    const closed = await closedPortUrl();
    const build = ['build', '--prompts', file, '--format', 'jsonl', '--out', join(dir, 'o.jsonl')];
    const cases: [string[], string | RegExp][] = [
      [
        [...build, '--generator', 'openai', '--model', 'm'],
        'invalid config: endpoint = undefined; expected a URL with --generator openai',
      ],
      [
        [...build, '--generator', 'openai', '--endpoint', closed],
        'invalid config: model = undefined; expected a model name',
      ],
      [
        [
          ...build,
          '--generator',
          'openai',
          '--endpoint',
          closed,
          '--model',
          'm',
          '--api-key-env',
          'MOTE_UNSET_VAR_X',
        ],
        'invalid config: api-key-env = "MOTE_UNSET_VAR_X"; expected the name of a set, non-empty environment variable',
      ],
      [[...build, '--generator', 'gpt'], /Invalid values:[\s\S]*generator/],
      [
        [...build, '--generator', 'openai', '--endpoint', closed, '--model', 'm', '--concurrency', '0'],
        'invalid config: concurrency = 0; expected a positive integer',
      ],
      [
        [
          'build',
          '--prompts',
          file,
          '--format',
          'csv',
          '--column',
          'goal',
          '--out',
          join(dir, 'o.jsonl'),
          '--generator',
          'openai',
          '--endpoint',
          closed,
          '--model',
          'm',
        ],
        `${file}:1: expected a CSV header row, got a JSON object (use --format jsonl or --format hh)`,
      ],
      [
        [...build, '--generator', 'openai', '--endpoint', closed, '--model', 'm', '--request-retries', '0'],
        /^cannot reach http:\/\/127\.0\.0\.1:\d+\/v1\/chat\/completions: network error \(ECONNREFUSED\) after 1 attempt\(s\)$/,
      ],
    ];
    for (const [args, message] of cases) {
      const { error } = await inProcess(args);
      expect(error?.message).toMatch(message);
    }
  });
});

/** Runs the aligncot command in this process (as main.ts wires it), capturing stdout, stderr and the error. */
async function inProcess(args: string[]): Promise<{ stdout: string; stderr: string; error?: Error }> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
    stdout += String(s);
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((s) => {
    stderr += String(s);
    return true;
  });
  try {
    await yargs(['aligncot', ...args])
      .command(aligncotCommand)
      .strict()
      .exitProcess(false)
      .fail((msg, e) => {
        throw e ?? new Error(msg);
      })
      .parseAsync();
    return { stdout, stderr };
  } catch (e) {
    return { stdout, stderr, error: e as Error };
  } finally {
    out.mockRestore();
    err.mockRestore();
    process.exitCode = undefined;
  }
}
