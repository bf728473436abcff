// The lock of a run directory: one process at a time writes a run's checkpoints and metrics. `<dir>/.lock` holds
// {pid, host, startedAt, token}, created atomically (O_EXCL), its mtime refreshed every minute while the run goes
// on, and removed when the run ends (also on process.exit). A lock is stale, and taken over with a note, when its
// process is gone: a pid that no longer exists on this host, or, from another host (where the pid cannot be
// checked), a lock not refreshed for STALE_LOCK_MS. A live lock is refused naming the process.
import { randomBytes } from 'node:crypto';
import { readFileSync, unlinkSync } from 'node:fs';
import { link, mkdir, open, readFile, rename, rmdir, stat, unlink, utimes } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';

export const LOCK_FILE = '.lock';
/** A lock from another host not refreshed for this long (10 minutes) is stale. */
export const STALE_LOCK_MS = 10 * 60_000;
/** How often a held lock's mtime is refreshed. */
const REFRESH_MS = 60_000;
/** A lock file without readable content younger than this is being written by its creator: not stale yet. */
const CREATING_MS = 10_000;

/** What a lock file records. */
export interface LockInfo {
  pid: number;
  host: string;
  /** ISO time the lock was taken. */
  startedAt: string;
  /** Random id of this holder (so a holder removes only its own lock). */
  token: string;
  /** What holds it, e.g. 'mote train'. */
  command?: string;
}

/** Another process holds the run directory. */
export class RunLockedError extends Error {
  constructor(
    readonly dir: string,
    readonly holder: LockInfo,
  ) {
    super(
      `${dir} is in use by process ${holder.pid} on ${holder.host}${holder.command ? ` (${holder.command})` : ''}, since ${holder.startedAt}: one run writes a run directory at a time. Wait for it to end or stop it; the lock (${join(dir, LOCK_FILE)}) is taken over once that process is gone`,
    );
    this.name = 'RunLockedError';
  }
}

/** A held lock. */
export interface RunLock {
  path: string;
  info: LockInfo;
  /** A stale lock this one replaced, with why it was stale. */
  tookOver: { holder: LockInfo | null; reason: string } | null;
  /** Removes the lock (if it is still this one's). Idempotent. */
  release(): Promise<void>;
}

export interface LockOptions {
  /** Recorded in the lock, shown to a refused process. */
  command?: string;
  /** Milliseconds after which another host's unrefreshed lock is stale. Default STALE_LOCK_MS. */
  staleMs?: number;
}

/**
 * Takes the lock of run directory `dir` (created if missing); throws RunLockedError while a live process holds it.
 * A directory the lock created is removed again on release when nothing else was written into it: a run that fails
 * before its first file (a bad base, a bad config) leaves nothing behind.
 */
export async function lockRunDir(dir: string, options: LockOptions = {}): Promise<RunLock> {
  const abs = resolve(dir);
  const created = await mkdir(abs, { recursive: true }); // the first directory made, or undefined
  const path = join(abs, LOCK_FILE);
  const info: LockInfo = {
    pid: process.pid,
    host: hostname(),
    startedAt: new Date().toISOString(),
    token: randomBytes(8).toString('hex'),
    ...(options.command && { command: options.command }),
  };
  let tookOver: RunLock['tookOver'] = null;
  for (let attempt = 0; ; attempt++) {
    if (await create(path, info)) break;
    const found = await readLock(path);
    if (!found) continue; // removed meanwhile: try again
    const stale = staleReason(found, options.staleMs ?? STALE_LOCK_MS);
    if (stale === null || attempt >= 3) throw new RunLockedError(abs, found.holder ?? unknownHolder(found));
    if (await takeOver(path, found.text)) tookOver = { holder: found.holder, reason: stale };
  }
  return held(path, info, tookOver, created ? { dir: abs, top: created } : undefined);
}

/** The current holder of `dir`'s lock, or null when it is not locked. */
export async function readRunLock(dir: string): Promise<LockInfo | null> {
  return (await readLock(join(resolve(dir), LOCK_FILE)))?.holder ?? null;
}

// ---------------------------------------------------------------- helpers

/** Creates the lock file with O_EXCL; false when it exists. */
async function create(path: string, info: LockInfo): Promise<boolean> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, 'wx');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
  try {
    await fh.writeFile(`${JSON.stringify(info)}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
  return true;
}

interface FoundLock {
  text: string;
  holder: LockInfo | null;
  mtimeMs: number;
}

async function readLock(path: string): Promise<FoundLock | null> {
  try {
    const [text, s] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
    let holder: LockInfo | null = null;
    try {
      const v = JSON.parse(text);
      if (Number.isInteger(v?.pid) && typeof v?.host === 'string') holder = v;
    } catch {}
    return { text, holder, mtimeMs: s.mtimeMs };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/** Why a found lock is stale, or null when its holder may still be running. */
function staleReason(found: FoundLock, staleMs: number): string | null {
  const age = Date.now() - found.mtimeMs;
  const h = found.holder;
  if (!h) return age > CREATING_MS ? 'an unreadable lock file' : null;
  if (h.host === hostname()) {
    if (h.pid === process.pid) return null; // this process already holds it
    return alive(h.pid) ? null : `process ${h.pid} is gone`;
  }
  return age > staleMs ? `not refreshed for ${Math.round(age / 60_000)} min by ${h.host}` : null;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by another user
  }
}

/**
 * Removes a stale lock whose content is `text`: renamed aside first (atomic), then checked to be the one judged
 * stale; a lock another process created meanwhile is put back. True when the stale lock is gone.
 */
async function takeOver(path: string, text: string): Promise<boolean> {
  const aside = `${path}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await rename(path, aside);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
  const moved = await readFile(aside, 'utf8').catch(() => '');
  if (moved !== text) await link(aside, path).catch(() => {}); // not the stale one: put it back unless replaced
  await unlink(aside).catch(() => {});
  return moved === text;
}

function unknownHolder(found: FoundLock): LockInfo {
  return { pid: -1, host: 'unknown', startedAt: new Date(found.mtimeMs).toISOString(), token: '' };
}

/** The directories a lock created: `dir` and its parents up to `top`, the first one `mkdir` made. */
interface Created {
  dir: string;
  top: string;
}

function held(path: string, info: LockInfo, tookOver: RunLock['tookOver'], created?: Created): RunLock {
  let released = false;
  const mine = async () => (await readLock(path))?.holder?.token === info.token;
  const refresh = setInterval(() => {
    const now = new Date();
    utimes(path, now, now).catch(() => {});
  }, REFRESH_MS);
  refresh.unref();
  // a process.exit (a second Ctrl-C) skips `finally` blocks: remove the lock on the way out
  const onExit = () => {
    try {
      if (!released && readFileSync(path, 'utf8').includes(info.token)) unlinkSync(path);
    } catch {}
  };
  process.on('exit', onExit);
  return {
    path,
    info,
    tookOver,
    async release() {
      if (released) return;
      released = true;
      clearInterval(refresh);
      process.off('exit', onExit);
      if (await mine()) await unlink(path).catch(() => {});
      if (created) await removeIfEmpty(created);
    },
  };
}

/** Removes `dir`, then its parents up to `top`, each only while empty (rmdir refuses a directory with files). */
async function removeIfEmpty({ dir, top }: Created): Promise<void> {
  for (let d = dir; ; d = dirname(d)) {
    if (
      !(await rmdir(d).then(
        () => true,
        () => false,
      ))
    )
      return;
    if (d === top || dirname(d) === d) return;
  }
}
