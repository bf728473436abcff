// Which checkpoint of a run directory a run resumes from. By default the newest one that reads back intact: a
// checkpoint whose files were cut short or damaged after it was written (a full disk, a copy that stopped, a
// storage fault) is passed over for the next older one, and the caller is told which and why. A checkpoint can
// also be named (`step-N`, `N`, or its directory); then it is that one or an error. A checkpoint holding NaN or
// ±Inf is not "damaged" in this sense: it is an error naming the file and tensor (util/finite.ts).
import { mkdir, rename } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { NonFiniteOptions } from '../util/finite.js';
import { NonFiniteTensorError } from '../util/finite.js';
import {
  type CheckpointState,
  checkpointsDir,
  latestCheckpoint,
  listCheckpoints,
  readCheckpoint,
} from './checkpoint.js';

/** The checkpoint a resumed run continues, and the newer ones passed over. */
export interface ResumePoint {
  dir: string;
  state: CheckpointState;
  /** Newer checkpoints that did not read back, newest first, with the reason. */
  skipped: { dir: string; reason: string }[];
}

/**
 * The checkpoint to resume `outDir` from (file header): `which` names one (`step-N`, `N`, or a directory), else
 * the newest intact one. Null when the run has no complete checkpoint. Throws when the named one does not read
 * back, when none does, or when one holds non-finite values (unless `allowNonFinite`).
 */
export async function resumePoint(
  outDir: string,
  which?: string,
  options: NonFiniteOptions = {},
): Promise<ResumePoint | null> {
  const all = await listCheckpoints(outDir);
  const names = all.map((c) => c.name).join(', ') || 'none';
  if (which !== undefined && which !== '') {
    const dir = namedCheckpoint(outDir, which);
    if (/^(step-)?\d+$/.test(which) && !all.some((c) => c.dir === dir))
      throw new Error(`--resume ${which}: no complete checkpoint ${dir} (the run has: ${names})`);
    const state = await readIntact(dir, options, names);
    return { dir, state, skipped: [] };
  }
  const latest = await latestCheckpoint(outDir);
  if (!latest) return null;
  // the `latest` pointer's target first (normally the highest step), then the others, newest first
  const order = [
    latest,
    ...all
      .map((c) => c.dir)
      .filter((d) => d !== latest)
      .reverse(),
  ];
  const skipped: ResumePoint['skipped'] = [];
  for (const dir of order) {
    try {
      const state = await readIntact(dir, options, names);
      return { dir, state, skipped };
    } catch (e) {
      if (e instanceof NonFiniteTensorError) throw e;
      skipped.push({ dir, reason: (e as Error).message });
    }
  }
  throw new Error(
    `--resume: no checkpoint of ${checkpointsDir(outDir)} reads back intact:\n  ${skipped.map((s) => s.reason).join('\n  ')}`,
  );
}

/** The directory `which` names: `step-N`, `N`, or a path. */
function namedCheckpoint(outDir: string, which: string): string {
  if (/^\d+$/.test(which)) return join(checkpointsDir(outDir), `step-${which}`);
  if (/^step-\d+$/.test(which)) return join(checkpointsDir(outDir), which);
  return resolve(which);
}

/** Reads the whole checkpoint (state, weights, moments) and returns its state; a non-finite one says what else there is. */
async function readIntact(dir: string, options: NonFiniteOptions, names: string): Promise<CheckpointState> {
  try {
    return (await readCheckpoint(dir, options)).state;
  } catch (e) {
    if (e instanceof NonFiniteTensorError)
      e.message += `; resume another checkpoint (--resume step-N; the run has: ${names}), or load it anyway with --allow-non-finite`;
    throw e;
  }
}

/** Where checkpoints newer than a resumed one are moved: kept, but out of the run's list. */
export const SET_ASIDE_DIR = 'set-aside';

/**
 * Moves the checkpoints of `outDir` newer than `step` to `checkpoints/set-aside/` (a run resumed from an older
 * checkpoint writes its own later steps; the set-aside ones would otherwise be pruned in their place or resumed by
 * mistake). Returns the new paths.
 */
export async function setAsideNewer(outDir: string, step: number): Promise<string[]> {
  const newer = (await listCheckpoints(outDir)).filter((c) => c.step > step);
  if (newer.length === 0) return [];
  const aside = join(checkpointsDir(outDir), SET_ASIDE_DIR);
  await mkdir(aside, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const moved: string[] = [];
  for (const c of newer) {
    const to = join(aside, `${c.name}-${stamp}`);
    await rename(c.dir, to);
    moved.push(to);
  }
  return moved;
}

/** The newest checkpoint of `outDir` that reads back intact with finite values, or null. */
export async function lastGoodCheckpoint(outDir: string): Promise<string | null> {
  for (const c of (await listCheckpoints(outDir)).reverse()) {
    try {
      await readCheckpoint(c.dir);
      return c.dir;
    } catch {}
  }
  return null;
}
