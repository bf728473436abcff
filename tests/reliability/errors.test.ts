// Fault injection, class 2: errors keep their cause and name their file. A wasm abort mid-training whose clean-up
// fails too (the dead heap: disposing throws "memory access out of bounds") must surface the trainer's explanation;
// truncated state.json / config.json / safetensors name the file; an output location that cannot be written is
// refused before any work by every command that writes one, naming the path and what the errno means.
//
// Read-only locations as root: permission bits do not stop root, so the cases are (1) a path under a regular file
// (ENOTDIR), (2) /sys, a kernel file system that refuses new entries to everyone (EPERM), (3) a read-only tmpfs
// mounted in a private mount namespace (`unshare -m`, EROFS) where the sandbox allows it, else skipped, and (4) for
// a non-root user, a directory without write permission (EACCES).
import { spawnSync } from 'node:child_process';
import { chmod, mkdir, readdir, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { CommandModule } from 'yargs';
import { aligncotCommand } from '../../src/cli/commands/aligncot.js';
import { demoCommand } from '../../src/cli/commands/demo.js';
import { evalCommand } from '../../src/cli/commands/eval.js';
import { exportCommand } from '../../src/cli/commands/export.js';
import { generateCommand } from '../../src/cli/commands/generate.js';
import { plotCommand } from '../../src/cli/commands/plot.js';
import { pretrainCommand } from '../../src/cli/commands/pretrain.js';
import { trainCommand } from '../../src/cli/commands/train.js';
import { readRunConfigFile } from '../../src/run/config.js';
import { loadRun } from '../../src/run/load.js';
import { planRun, trainRun } from '../../src/run/train.js';
import { checkpointsDir } from '../../src/train/checkpoint.js';
import { cleanupAfterFailure, withCleanup } from '../../src/util/cleanup.js';
import { checkWritableDir, checkWritableFile } from '../../src/util/writable.js';
import { ROOT, STORIES_BIN, TOK512_BIN } from '../helpers/index.js';
import { commandError, makeRun } from '../unit/cli/run-fixture.js';
import { CLI, ENV, mote, tempDir, writeChains } from './helpers.js';

let dir: string;
let aFile: string;
beforeAll(async () => {
  dir = await tempDir('errors');
  aFile = join(dir, 'a-file');
  await writeFile(aFile, 'x');
});
afterEach(() => vi.restoreAllMocks());

/** What a wasm trap throws (WebAssembly.RuntimeError). */
const runtimeError = (message: string) => Object.assign(new Error(message), { name: 'RuntimeError' });

describe('clean-up never masks the first error', () => {
  it('withCleanup: the body error is thrown, a failing clean-up is kept on it; a clean-up error alone is thrown', async () => {
    const first = new Error('the explanation');
    const e = await withCleanup(
      () => Promise.reject(first),
      () => {
        throw new Error('memory access out of bounds');
      },
    ).catch((x) => x);
    expect(e).toBe(first);
    expect((e as { cleanupError?: Error }).cleanupError?.message).toBe('memory access out of bounds');
    await expect(
      withCleanup(
        async () => 1,
        () => {
          throw new Error('cleanup');
        },
      ),
    ).rejects.toThrow('cleanup');
    await cleanupAfterFailure('not an Error', () => {
      throw new Error('ignored');
    });
  });

  it('a wasm abort mid-training whose disposals then fail surfaces the trainer explanation (run/train.ts)', async () => {
    expect(tf.getBackend()).toBe('wasm');
    const chains = await writeChains(dir);
    const plan = await planRun(join(dir, 'oom'), {
      layers: [
        {
          model: { base: STORIES_BIN, tokenizer: TOK512_BIN },
          experts: { kind: 'mote', rank: 2 },
          train: { batchSize: 4, maxSteps: 2 },
          data: { train: chains, maxLen: 64 },
        },
      ],
    });
    // the fault: once training starts, the next matmul aborts like a wasm heap out of memory, and from then on
    // every disposal fails as it does on the dead heap
    const backend = tf.findBackend('wasm') as unknown as { disposeData: (...a: unknown[]) => boolean };
    const dispose = backend.disposeData;
    const kernel = tf.getKernel('BatchMatMul', 'wasm');
    vi.spyOn(console, 'warn').mockImplementation(() => {}); // tfjs: "kernel already registered"
    let armed = false;
    let dead = false;
    tf.registerKernel({
      ...kernel,
      kernelFunc: (args) => {
        if (armed) {
          dead = true;
          throw runtimeError('Aborted(OOM)');
        }
        return kernel.kernelFunc(args);
      },
    });
    backend.disposeData = function (this: unknown, ...a: unknown[]) {
      if (dead) throw runtimeError('memory access out of bounds');
      return dispose.apply(this, a);
    };
    try {
      const e = await trainRun(plan, { onEvent: (x) => x.type === 'start' && (armed = true) }).catch(
        (x) => x,
      );
      expect(dead).toBe(true);
      expect(e.message).toMatch(
        /^the wasm backend aborted at step 1 \(micro-batches 4×\d+\): its heap is below the limit, so probably not out of memory\. Measured then: wasm heap \d+\.\d\d GiB, RSS \d+\.\d\d GiB/,
      );
      expect(e.message).toMatch(/the estimate for a 4×\d+ micro-batch was \d+\.\d\d GiB/);
      expect(e.message).toMatch(/lower microBatchSize/);
      expect(e.cleanupError?.message).toBe('memory access out of bounds');
      expect(await readdir(plan.files.dir)).not.toContain('.lock'); // released all the same
    } finally {
      tf.registerKernel(kernel);
      backend.disposeData = dispose;
    }
  });
});

describe('truncated files name themselves', () => {
  it('state.json, safetensors, a config file', async () => {
    const run = join(dir, 'truncated');
    await makeRun(run);
    const ckpt = join(checkpointsDir(run), 'step-7');
    await truncate(join(ckpt, 'state.json'), 300);
    await expect(loadRun(run)).rejects.toThrow(
      new RegExp(
        `^${join(ckpt, 'state.json')}: not valid JSON \\(Unterminated string in JSON at position 300`,
      ),
    );
    const run2 = join(dir, 'truncated-weights');
    await makeRun(run2);
    const weights = join(checkpointsDir(run2), 'step-7', 'adapters.safetensors');
    await truncate(weights, (await stat(weights)).size - 5);
    await expect(loadRun(run2)).rejects.toThrow(new RegExp(`^${weights}:`));
    const config = join(dir, 'run.json');
    await writeFile(config, '{"train": {"epochs": 2');
    await expect(readRunConfigFile(config)).rejects.toThrow(`config file ${config}: not valid JSON`);
  });

  it('a truncated .gz prompt or corpus file: every reading command names it (util/text-file.ts)', async () => {
    const gz = join(dir, 'prompts.jsonl.gz');
    const whole = gzipSync(`${JSON.stringify({ id: 'q', question: 'Hi?', harmful: false })}\n`.repeat(200));
    await writeFile(gz, whole.subarray(0, whole.length >> 1));
    const cut = new RegExp(`^${gz}: truncated or corrupt gzip data \\(`);
    const cases: [CommandModule<object, never>, string[]][] = [
      [evalCommand as never, ['eval', '--prompts', gz, '--out', join(dir, 'eval-gz')]],
      [generateCommand as never, ['generate', '--prompts', gz, '--out', join(dir, 'gen-gz.jsonl')]],
      [
        aligncotCommand as never,
        [
          'aligncot',
          'build',
          '--prompts',
          gz,
          '--format',
          'jsonl',
          '--generator',
          'self',
          '--out',
          join(dir, 'b.jsonl'),
        ],
      ],
      [
        pretrainCommand as never,
        ['pretrain', '--corpus', gz, '--out', join(dir, 'pretrain-gz'), '--backend', 'wasm'],
      ],
    ];
    for (const [command, args] of cases) expect((await refused(command, args)).message, args[0]).toMatch(cut);
  });

  it('mote pretrain --resume with a truncated config.json names it', async () => {
    const out = join(dir, 'pretrain');
    await mkdir(join(checkpointsDir(out), 'step-1'), { recursive: true });
    await writeFile(join(checkpointsDir(out), 'step-1', 'state.json'), '{}');
    await writeFile(join(out, 'config.json'), '{"corpus": {"path": "/x", "te');
    const r = await mote(['pretrain', '--out', out, '--resume', '--backend', 'wasm']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`mote: --resume: ${join(out, 'config.json')} is not valid JSON (`);
  });
});

/** Runs a command in-process, collecting what it prints; returns the error it fails with. */
async function refused(command: CommandModule<object, never>, args: string[]) {
  const printed: string[] = [];
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => printed.push(String(s)) > 0);
  const message = await commandError(command, args);
  vi.restoreAllMocks();
  return { message, printed: printed.join('') };
}

describe('an output location that cannot be written is refused before any work', () => {
  const commands = (out: string, chains: string): [string, CommandModule<object, never>, string[]][] => [
    ['train', trainCommand as never, ['train', '--out', out, '--data', chains]],
    ['pretrain', pretrainCommand as never, ['pretrain', '--out', out]],
    ['eval', evalCommand as never, ['eval', '--out', out]],
    ['demo', demoCommand as never, ['demo', '--out', out]],
    ['export', exportCommand as never, ['export', '--format', 'hf', '--out', out]],
    ['generate', generateCommand as never, ['generate', '--prompts', chains, '--out', join(out, 'r.jsonl')]],
    [
      'aligncot build',
      aligncotCommand as never,
      [
        'aligncot',
        'build',
        '--prompts',
        chains,
        '--format',
        'jsonl',
        '--generator',
        'self',
        '--out',
        join(out, 'c.jsonl'),
      ],
    ],
    ['aligncot templates', aligncotCommand as never, ['aligncot', 'templates', '--out', out]],
    ['plot', plotCommand as never, ['plot', chains, '--out', join(out, 'loss.svg')]],
  ];

  it.each([
    ['a path under a regular file', () => join(aFile, 'run'), /ENOTDIR: .*a-file is a file, not a directory/],
    [
      '/sys (refuses new entries, even to root)',
      () => '/sys/fs/mote-run',
      /EPERM: operation not permitted|EACCES/,
    ],
  ])('%s: every command names the path and the reason, and starts nothing', async (_, where, reason) => {
    if (where().startsWith('/sys') && !(await stat('/sys/fs').catch(() => null))) return;
    const chains = await writeChains(dir);
    for (const [name, command, args] of commands(where(), chains)) {
      const r = await refused(command, args);
      expect(r.message, name).toMatch(/^--out \S+: cannot write (there|in \S+) \(/);
      expect(r.message, name).toMatch(reason);
      expect(r.message, name).toMatch(/; nothing was done$/);
      expect(r.printed, name).not.toMatch(/backend:/); // failed before choosing a backend or loading anything
    }
  });

  it('aligncot build checks --rejected and --report too; a file --out that is a directory is refused', async () => {
    const chains = await writeChains(dir);
    const base = ['aligncot', 'build', '--prompts', chains, '--format', 'jsonl', '--generator', 'self'];
    const rejected = await refused(aligncotCommand as never, [
      ...base,
      '--out',
      join(dir, 'ok.jsonl'),
      '--rejected',
      join(aFile, 'r.jsonl'),
    ]);
    expect(rejected.message).toMatch(/^--rejected .*: cannot write in .*a-file \(ENOTDIR/);
    const report = await refused(aligncotCommand as never, [
      ...base,
      '--out',
      join(dir, 'ok.jsonl'),
      '--report',
      '/sys/fs/x.json',
    ]);
    expect(report.message).toMatch(/^--report \/sys\/fs\/x\.json: cannot write in \/sys\/fs \(/);
    await expect(checkWritableFile(dir)).rejects.toThrow(/EISDIR: it is a directory; expected a file/);
    await expect(checkWritableDir(join(dir, 'new', 'deeper'))).resolves.toBeUndefined();
    expect(await stat(join(dir, 'new')).catch(() => null)).toBeNull(); // the check creates nothing
  });

  it('a read-only mount (EROFS): mote train refuses at once, exit 1', async () => {
    const ro = join(dir, 'ro');
    await mkdir(ro);
    const chains = await writeChains(dir);
    const inner = [process.execPath, ...CLI, 'train', '--out', join(ro, 'run'), '--data', chains]
      .map((a) => `'${a}'`)
      .join(' ');
    const probe = spawnSync('unshare', ['-m', '--propagation', 'private', 'true']);
    if (probe.status !== 0) return; // no mount namespaces here: the other cases cover the check
    const r = spawnSync(
      'unshare',
      ['-m', '--propagation', 'private', 'sh', '-c', `mount -t tmpfs -o ro tmpfs '${ro}' && ${inner}`],
      {
        cwd: ROOT,
        env: ENV,
        encoding: 'utf8',
      },
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(
      `mote: --out ${join(ro, 'run')}: cannot write in ${ro} (EROFS: read-only file system); nothing was done`,
    );
  });

  it('without root, a directory without write permission (EACCES)', async () => {
    if (process.getuid?.() === 0) return; // root writes through permission bits: covered by the cases above
    const locked = join(dir, 'locked');
    await mkdir(locked);
    await chmod(locked, 0o555);
    await expect(checkWritableDir(join(locked, 'run'))).rejects.toThrow(/EACCES: permission denied/);
    await chmod(locked, 0o755);
  });
});
