// Fault injection, class 3: signals and concurrent runs. SIGTERM sent to a real `mote train` (a checkpoint appears,
// exit 143, and the resumed run ends with the weights of an uninterrupted one); a second trainer on the same
// directory is refused naming the first one's pid; stale locks (dead pid, another host's unrefreshed lock) are
// taken over; a damaged latest checkpoint is passed over for the newest intact one; `--resume step-N` picks one;
// metrics rows written after the resumed checkpoint are removed, so no step appears twice.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { appendFile, mkdir, readdir, readFile, rm, truncate, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { LOCK_FILE, lockRunDir, RunLockedError, readRunLock } from '../../src/run/lock.js';
import { type PlannedRun, planRun, trainRun } from '../../src/run/train.js';
import { checkpointsDir } from '../../src/train/checkpoint.js';
import { STORIES_BIN, TOK512_BIN } from '../helpers/index.js';
import { jsonLines, mote, moteSpawn, tempDir, trainFlags, writeChains } from './helpers.js';

let dir: string;
let chains: string;
beforeAll(async () => {
  dir = await tempDir('signals');
  chains = await writeChains(dir);
});

const steps = async (out: string) =>
  (await jsonLines(join(out, 'metrics.jsonl'))).filter((r) => r.type === 'step').map((r) => r.step);
const weights = (out: string, step: number) =>
  readFile(join(checkpointsDir(out), `step-${step}`, 'adapters.safetensors'));

describe('mote train under SIGTERM and a second trainer', () => {
  it('SIGTERM saves a checkpoint and exits 143; a second trainer is refused meanwhile; the resume is exact', {
    timeout: 240_000,
  }, async () => {
    const out = join(dir, 'terminated');
    const child = moteSpawn(['train', '--out', out, ...trainFlags(chains), '--epochs', '50']);
    let stderr = '';
    const stepped = new Promise<void>((ok) =>
      child.stderr.on('data', (b: Buffer) => {
        stderr += b;
        if (/^step \d/m.test(stderr)) ok();
      }),
    );
    const closed = new Promise<number | null>((done) => child.on('close', done));
    await stepped;
    // the run directory is taken: a second `mote train` on it is refused, naming the running one
    const second = await mote(['train', '--out', out, ...trainFlags(chains)]);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(
      `mote: ${out} is in use by process ${child.pid} on ${hostname()} (mote train)`,
    );
    expect((await readRunLock(out))?.pid).toBe(child.pid);
    child.kill('SIGTERM');
    expect(await closed).toBe(143);
    expect(stderr).toMatch(/terminated \(SIGTERM\): saving a checkpoint after the current step/);
    const k = Number(/stopped at step (\d+)/.exec(stderr)?.[1]);
    expect(k).toBeGreaterThanOrEqual(1);
    expect((await readFile(join(checkpointsDir(out), 'latest'), 'utf8')).trim()).toBe(`step-${k}`);
    expect(await readdir(out)).not.toContain(LOCK_FILE); // released on the way out

    // resumed to k + 2 = the same weights as a run never interrupted (same flags, same schedule)
    const straight = join(dir, 'straight');
    const [resumed, uninterrupted] = await Promise.all([
      mote(['train', '--out', out, '--resume', '--max-steps', String(k + 2), '--backend', 'wasm']),
      mote([
        'train',
        '--out',
        straight,
        ...trainFlags(chains),
        '--epochs',
        '50',
        '--max-steps',
        String(k + 2),
      ]),
    ]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(uninterrupted.code, uninterrupted.stderr).toBe(0);
    expect(resumed.stderr).toContain(`resumed from step ${k}`);
    // byte-identical adapters files: the same tensors, values, order and metadata
    const [a, b] = [await weights(out, k + 2), await weights(straight, k + 2)];
    expect(a.length).toBeGreaterThan(100_000);
    expect(Buffer.compare(a, b)).toBe(0);
    expect(await steps(out)).toEqual(Array.from({ length: k + 2 }, (_, i) => i + 1));
  });
});

describe('the run directory lock (run/lock.ts)', () => {
  it('a live holder is refused by pid; a dead pid or an unrefreshed lock of another host is taken over', async () => {
    const out = join(dir, 'lock');
    const lock = await lockRunDir(out, { command: 'test' });
    expect(JSON.parse(await readFile(lock.path, 'utf8'))).toMatchObject({
      pid: process.pid,
      host: hostname(),
    });
    await expect(lockRunDir(out)).rejects.toThrow(RunLockedError);
    await expect(lockRunDir(out)).rejects.toThrow(
      `is in use by process ${process.pid} on ${hostname()} (test)`,
    );
    await lock.release();
    // the lock made the directory and nothing else was written into it: removed with the lock
    expect(existsSync(out)).toBe(false);
    await mkdir(out);

    // a process that is gone (a real pid, exited)
    const gone = spawnSync(process.execPath, ['-e', '']).pid;
    const stale = { pid: gone, host: hostname(), startedAt: new Date().toISOString(), token: 'old' };
    await writeFile(join(out, LOCK_FILE), JSON.stringify(stale));
    const taken = await lockRunDir(out);
    expect(taken.tookOver).toEqual({ holder: stale, reason: `process ${gone} is gone` });
    await taken.release();

    // another host: refused while refreshed, taken over once not refreshed for the stale limit
    const remote = { pid: 1, host: 'elsewhere', startedAt: new Date().toISOString(), token: 'remote' };
    await writeFile(join(out, LOCK_FILE), JSON.stringify(remote));
    await expect(lockRunDir(out)).rejects.toThrow(/in use by process 1 on elsewhere/);
    const hourAgo = new Date(Date.now() - 3_600_000);
    await utimes(join(out, LOCK_FILE), hourAgo, hourAgo);
    const again = await lockRunDir(out);
    expect(again.tookOver?.reason).toMatch(/^not refreshed for 60 min by elsewhere$/);

    // a holder releases only its own lock
    await writeFile(join(out, LOCK_FILE), JSON.stringify({ ...remote, token: 'someone else' }));
    await again.release();
    expect(await readdir(out)).toContain(LOCK_FILE);
    await rm(join(out, LOCK_FILE));
  });
});

describe('resume: which checkpoint, and metrics without duplicates', () => {
  const layer = () => ({
    model: { base: STORIES_BIN, tokenizer: TOK512_BIN },
    experts: { kind: 'mote' as const, rank: 2 },
    train: { learningRate: 1e-2, batchSize: 4, saveEvery: 1, maxSteps: 3, seed: 0 },
    data: { train: chains, maxLen: 64 },
  });
  const run = async (plan: PlannedRun) => {
    const notes: string[] = [];
    await trainRun(plan, { onEvent: (e) => e.type === 'note' && notes.push(e.message) });
    return notes;
  };

  it('a damaged latest checkpoint is passed over, with a note; the steps after it are trained once', async () => {
    const out = join(dir, 'damaged');
    await run(await planRun(out, { layers: [layer()] }));
    await truncate(join(checkpointsDir(out), 'step-3', 'state.json'), 100);
    const plan = await planRun(out, { resume: true, layers: [{ train: { maxSteps: 4 } }] });
    expect(plan.resumed?.step).toBe(2);
    const notes = await run(plan);
    expect(notes[0]).toMatch(
      /^warning: checkpoint .*step-3 does not read back \(.*state\.json: not valid JSON/,
    );
    expect(notes[1]).toBe(
      `resuming from the newest intact checkpoint, ${join(checkpointsDir(out), 'step-2')}`,
    );
    expect(notes).toContain(
      `${join(out, 'metrics.jsonl')}: removed 1 line(s) after step 2, written after that checkpoint`,
    );
    expect(await steps(out)).toEqual([1, 2, 3, 4]);
    expect((await readdir(join(checkpointsDir(out), 'set-aside')))[0]).toMatch(/^step-3-/);
  });

  it('--resume step-N picks that one; rows past it and a torn last line are removed', async () => {
    const out = join(dir, 'named');
    await run(await planRun(out, { layers: [layer()] }));
    await appendFile(join(out, 'metrics.jsonl'), '{"type":"step","split":"tr'); // a write cut by kill -9
    await expect(planRun(out, { resume: 'step-9' })).rejects.toThrow(
      /--resume step-9: no complete checkpoint .*step-9 \(the run has: step-1, step-2, step-3\)/,
    );
    const plan = await planRun(out, { resume: 'step-1', layers: [{ train: { maxSteps: 2 } }] });
    expect(plan.resumed?.step).toBe(1);
    const notes = await run(plan);
    expect(notes.filter((n) => /set aside/.test(n))).toHaveLength(2);
    expect(notes).toContain(
      `${join(out, 'metrics.jsonl')}: removed 3 line(s) after step 1, written after that checkpoint`,
    );
    expect(await steps(out)).toEqual([1, 2]);
    expect((await readFile(join(out, 'metrics.jsonl'), 'utf8')).endsWith('\n')).toBe(true);
  });

  it('a run planned before another wrote checkpoints is refused when it starts', async () => {
    const out = join(dir, 'raced');
    const plan = await planRun(out, { layers: [layer()] });
    await run(await planRun(out, { layers: [{ ...layer(), train: { ...layer().train, maxSteps: 1 } }] }));
    await expect(trainRun(plan)).rejects.toThrow(/holds a checkpoint .* written since this run was planned/);
  });
});
