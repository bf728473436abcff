// Whether an output location can be written, checked before any work: a run that trains for an hour and then
// cannot write its report has wasted the hour. The check creates nothing that stays: a directory that does not
// exist yet is judged by its nearest existing ancestor, where a probe directory is made and removed. (Permission
// bits alone do not answer it: root writes through them, a read-only mount refuses everyone.)
import { randomBytes } from 'node:crypto';
import { mkdir, open, rmdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';

/** What an errno means, in words. */
const ERRNO_MEANINGS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOTDIR: 'a part of the path is a file, not a directory',
  EISDIR: 'it is a directory',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  ENOENT: 'the file system does not let new entries be created there',
  ENAMETOOLONG: 'the name is too long',
  ELOOP: 'too many symbolic links',
  EEXIST: 'it already exists',
  EBUSY: 'it is busy',
};

/** `CODE (meaning)` for an errno error, or its message for any other error. */
export function describeFsError(e: unknown): string {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code && ERRNO_MEANINGS[code]) return `${code}: ${ERRNO_MEANINGS[code]}`;
  return code ?? (e as Error)?.message ?? String(e);
}

/** An output location cannot be written. */
export class NotWritableError extends Error {
  constructor(
    /** The flag or option that named it, e.g. `--out`. */
    readonly flag: string,
    readonly path: string,
    /** Where the failure was found: the path itself or its nearest existing ancestor. */
    readonly at: string,
    readonly code: string | undefined,
    detail: string,
  ) {
    super(
      `${flag} ${path}: cannot write ${at === path ? 'there' : `in ${at}`} (${detail}); nothing was done`,
    );
    this.name = 'NotWritableError';
  }
}

/** Throws NotWritableError unless a directory can be created or written at `dir` (nothing is left behind). */
export async function checkWritableDir(dir: string, flag = '--out'): Promise<void> {
  const problem = await dirProblem(resolve(dir));
  if (problem) throw new NotWritableError(flag, dir, problem.at, problem.code, problem.detail);
}

/**
 * Throws NotWritableError unless `file` can be appended to (when it exists) or created (its directory judged as
 * in `checkWritableDir`). An existing file is opened for appending and closed, unchanged.
 */
export async function checkWritableFile(file: string, flag = '--out'): Promise<void> {
  const abs = resolve(file);
  const info = await stat(abs).catch(() => null);
  if (!info) {
    const problem = await dirProblem(dirname(abs));
    if (problem) throw new NotWritableError(flag, file, problem.at, problem.code, problem.detail);
    return;
  }
  if (info.isDirectory())
    throw new NotWritableError(flag, file, file, 'EISDIR', 'EISDIR: it is a directory; expected a file');
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  try {
    fh = await open(abs, 'a');
  } catch (e) {
    throw new NotWritableError(flag, file, file, (e as NodeJS.ErrnoException).code, describeFsError(e));
  } finally {
    await fh?.close();
  }
}

/** Why a directory cannot be created or written at `abs`, or null when it can. */
async function dirProblem(abs: string): Promise<{ at: string; code?: string; detail: string } | null> {
  const { at, info } = await nearestExisting(abs);
  if (!info.isDirectory())
    return { at, code: 'ENOTDIR', detail: `ENOTDIR: ${at} is a file, not a directory` };
  const probe = join(at, `.mote-write-check-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await mkdir(probe);
  } catch (e) {
    return { at, code: (e as NodeJS.ErrnoException).code, detail: describeFsError(e) };
  }
  await rmdir(probe).catch(() => {});
  return null;
}

/** The path itself or its nearest ancestor that exists, with its stat. */
async function nearestExisting(abs: string): Promise<{ at: string; info: Awaited<ReturnType<typeof stat>> }> {
  for (let p = abs; ; p = dirname(p)) {
    const info = await stat(p).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return null;
      if (e.code === 'ENOTDIR') return null; // a file further up: found when the walk reaches it
      throw e;
    });
    if (info) return { at: p, info };
    if (dirname(p) === p) throw new Error(`no existing ancestor of ${abs}`);
  }
}
