// Training checkpoints: <out>/checkpoints/step-<n>/ holding the weights (model.safetensors, or adapters.safetensors
// when the base is frozen and referenced by path + sha256), optimizer.safetensors (AdamW moments) and state.json
// (step, epoch, data order, config snapshot). A checkpoint is built in a temp directory, fsynced and renamed into
// place; only then does the `latest` pointer move and are old ones pruned, so a failed save loses nothing.
// Weights and moments holding NaN or ±Inf are never written, and refused when read (util/finite.ts).
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { writeFileAtomic } from '../io/atomic.js';
import type { HostTensor, WritableDtype } from '../io/safetensors.js';
import { readSafetensors, writeSafetensors } from '../io/safetensors-node.js';
import { FormatError } from '../util/errors.js';
import { checkFiniteHost, type NonFiniteOptions } from '../util/finite.js';
import type { AdamW, AdamWSlot, AdamWState } from './optimizer.js';

export const CHECKPOINT_FORMAT = 'mote-checkpoint';
export const CHECKPOINT_FORMAT_VERSION = 1;
const STATE_FILE = 'state.json';
const OPTIMIZER_FILE = 'optimizer.safetensors';
const LATEST_FILE = 'latest';
const STEP_DIR = /^step-(\d+)$/;

/** What a checkpoint's weights file holds: every variable, or only the trainable ones over a frozen base. */
export type WeightsKind = 'model' | 'adapters';

export interface SaveCheckpointOptions {
  /** Run directory; the checkpoint goes to `<outDir>/checkpoints/step-<step>/`. */
  outDir: string;
  /** Optimizer steps taken. */
  step: number;
  /** Epoch (0-based) the run is in. Default 0. */
  epoch?: number;
  /** What to save, by dotted name: `model.namedVariables()`, or the adapters' trainable variables. */
  variables: ReadonlyMap<string, tf.Tensor>;
  /** `'model'` → model.safetensors; `'adapters'` → adapters.safetensors (base saved apart). Default 'model'. */
  kind?: WeightsKind;
  /** The frozen base the adapters belong to; its sha256 is computed when not given. */
  base?: { path: string; sha256?: string };
  /** Optimizer whose moments to save (or its state). */
  optimizer?: AdamW | AdamWState;
  /** Data-order RNG state / position: anything JSON-serialisable. */
  data?: unknown;
  /** Config snapshot (model, experts, training, tokenizer, …): JSON-serialisable. */
  config?: unknown;
  /** Any further JSON the caller wants back on resume. */
  extra?: unknown;
  /** Checkpoints to keep (by step); older ones are deleted once this one is complete. Default 3. */
  keepLast?: number;
  /** Stored dtype of the weights. Default F32 (moments are always F32). */
  dtype?: WritableDtype;
  /** Write weights or moments holding NaN/±Inf anyway. Default false: NonFiniteTensorError, nothing written. */
  allowNonFinite?: boolean;
}

/** state.json. */
export interface CheckpointState {
  format: typeof CHECKPOINT_FORMAT;
  formatVersion: number;
  library: { name: string; version: string; tfjs: string };
  step: number;
  epoch: number;
  createdAt: string;
  weights: { file: string; kind: WeightsKind; dtype: WritableDtype; tensors: number };
  base: { path: string; sha256: string } | null;
  optimizer: { file: string; step: number; slots: number } | null;
  data: unknown;
  config: unknown;
  extra: unknown;
}

/** A checkpoint does not fit the model it is loaded into. */
export class CheckpointMismatchError extends Error {
  constructor(
    readonly dir: string,
    readonly variable: string,
    readonly reason: string,
  ) {
    super(`checkpoint ${dir}: variable ${variable}: ${reason}`);
    this.name = 'CheckpointMismatchError';
  }
}

// ---------------------------------------------------------------- save

/**
 * Writes a checkpoint atomically and returns its directory. Files go into a temp directory first (each fsynced),
 * which is renamed to `step-<n>`; then `latest` is updated atomically and checkpoints beyond the last `keepLast`
 * are deleted. If anything fails before the rename, the temp directory is removed and existing checkpoints are
 * untouched. Re-saving an existing step replaces it only once the new one is complete.
 */
export async function saveCheckpoint(o: SaveCheckpointOptions): Promise<string> {
  const root = checkpointsDir(o.outDir);
  const { step, epoch = 0, kind = 'model', dtype = 'F32', keepLast = 3 } = o;
  if (!Number.isInteger(step) || step < 0)
    throw new RangeError(`saveCheckpoint: step must be an integer ≥ 0, got ${step}`);
  if (!Number.isInteger(keepLast) || keepLast < 1)
    throw new RangeError(`saveCheckpoint: keepLast must be an integer ≥ 1, got ${keepLast}`);
  const name = `step-${step}`;
  // read to the host and checked before anything is written: a non-finite checkpoint is never saved
  const weights = await hostTensors(o.variables);
  const moments = o.optimizer && isOptimizer(o.optimizer) ? await o.optimizer.getState() : o.optimizer;
  if (!o.allowNonFinite) {
    const where = (what: string) =>
      `checkpoint ${join(root, name)} not written, the ${what} after step ${step} are not finite`;
    checkFiniteHost(weights, where('weights'));
    if (moments) checkFiniteHost(momentTensors(moments), where('optimizer moments'));
  }
  await mkdir(root, { recursive: true });
  const tmp = join(root, `.tmp-${name}-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await mkdir(tmp);
    const weightsFile = `${kind}.safetensors`;
    await writeSafetensors(join(tmp, weightsFile), weights, { dtype, metadata: { format: 'mote-tfjs' } });
    const optimizer = moments ? await writeOptimizer(join(tmp, OPTIMIZER_FILE), moments) : null;
    const state: CheckpointState = {
      format: CHECKPOINT_FORMAT,
      formatVersion: CHECKPOINT_FORMAT_VERSION,
      library: { name: 'mote-tfjs', version: await libraryVersion(), tfjs: tf.version_core },
      step,
      epoch,
      createdAt: new Date().toISOString(),
      weights: { file: weightsFile, kind, dtype, tensors: o.variables.size },
      base: o.base
        ? { path: resolve(o.base.path), sha256: o.base.sha256 ?? (await sha256Base(o.base.path)) }
        : null,
      optimizer,
      data: o.data ?? null,
      config: o.config ?? null,
      extra: o.extra ?? null,
    };
    await writeFileAtomic(join(tmp, STATE_FILE), `${JSON.stringify(state, null, 2)}\n`);
    await fsyncDir(tmp);
    await commitDir(root, tmp, name);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
  await writeFileAtomic(join(root, LATEST_FILE), `${name}\n`);
  await fsyncDir(root);
  await prune(root, keepLast, name);
  return join(root, name);
}

/** Moves the finished temp dir to `name`, replacing an existing checkpoint of that step only after the move. */
async function commitDir(root: string, tmp: string, name: string): Promise<void> {
  const final = join(root, name);
  const old = join(root, `.old-${name}-${process.pid}-${randomBytes(4).toString('hex')}`);
  const exists = await stat(final).then(
    () => true,
    () => false,
  );
  if (exists) await rename(final, old);
  try {
    await rename(tmp, final);
  } catch (e) {
    if (exists) await rename(old, final);
    throw e;
  }
  await fsyncDir(root);
  if (exists) await rm(old, { recursive: true, force: true });
}

/** Deletes complete checkpoints older than the last `keepLast` (never `keep`) and leftovers of failed saves. */
async function prune(root: string, keepLast: number, keep: string): Promise<void> {
  const steps = await completeCheckpointsIn(root);
  const doomed = steps.slice(0, Math.max(0, steps.length - keepLast)).filter((c) => c.name !== keep);
  for (const c of doomed) await rm(c.dir, { recursive: true, force: true });
  for (const entry of await readdir(root)) {
    const leftover = /^\.(?:tmp|old)-step-\d+-(\d+)-/.exec(entry);
    if (leftover && leftover[1] !== String(process.pid))
      await rm(join(root, entry), { recursive: true, force: true });
  }
}

/** The variables' values on the host (read once: checked, then written). */
async function hostTensors(variables: ReadonlyMap<string, tf.Tensor>): Promise<Map<string, HostTensor>> {
  const host = new Map<string, HostTensor>();
  for (const [name, t] of variables) {
    if (t.dtype !== 'float32' && t.dtype !== 'int32')
      throw new Error(`saveCheckpoint: ${name} has dtype ${t.dtype}; expected float32 or int32`);
    host.set(name, { shape: [...t.shape], data: (await t.data()) as Float32Array | Int32Array });
  }
  return host;
}

/** The moments as the tensors optimizer.safetensors stores: m.<name> and v.<name>. */
function momentTensors(state: AdamWState): Map<string, HostTensor> {
  const tensors = new Map<string, HostTensor>();
  for (const [name, s] of state.slots) {
    tensors.set(`m.${name}`, { shape: s.shape, data: s.m });
    tensors.set(`v.${name}`, { shape: s.shape, data: s.v });
  }
  return tensors;
}

async function writeOptimizer(path: string, state: AdamWState): Promise<CheckpointState['optimizer']> {
  const steps: Record<string, number> = {};
  for (const [name, s] of state.slots) steps[name] = s.step;
  const metadata = { step: String(state.step), param_steps: JSON.stringify(steps) };
  await writeSafetensors(path, momentTensors(state), { metadata });
  return { file: OPTIMIZER_FILE, step: state.step, slots: state.slots.size };
}

function isOptimizer(o: AdamW | AdamWState): o is AdamW {
  return typeof (o as AdamW).getState === 'function';
}

// ---------------------------------------------------------------- find

/** `<outDir>/checkpoints`. */
export function checkpointsDir(outDir: string): string {
  return join(outDir, 'checkpoints');
}

/** Complete checkpoints (those with a state.json) of a run, oldest step first. */
export async function listCheckpoints(
  outDir: string,
): Promise<{ step: number; name: string; dir: string }[]> {
  return completeCheckpointsIn(checkpointsDir(outDir));
}

async function completeCheckpointsIn(root: string): Promise<{ step: number; name: string; dir: string }[]> {
  const entries = await readdir(root).catch(() => [] as string[]);
  const found: { step: number; name: string; dir: string }[] = [];
  for (const name of entries) {
    const m = STEP_DIR.exec(name);
    if (m && (await isFile(join(root, name, STATE_FILE))))
      found.push({ step: Number(m[1]), name, dir: join(root, name) });
  }
  return found.sort((a, b) => a.step - b.step);
}

/**
 * The directory of the run's latest checkpoint: the one `checkpoints/latest` names if it is complete, else the
 * complete checkpoint of highest step; null when there is none.
 */
export async function latestCheckpoint(outDir: string): Promise<string | null> {
  const root = checkpointsDir(outDir);
  const pointer = (await readFile(join(root, LATEST_FILE), 'utf8').catch(() => '')).trim();
  if (STEP_DIR.test(pointer) && (await isFile(join(root, pointer, STATE_FILE)))) return join(root, pointer);
  const all = await listCheckpoints(outDir);
  return all.length ? all[all.length - 1].dir : null;
}

// ---------------------------------------------------------------- load

/** A checkpoint read into host memory (no model needed: read the config first, then build the model). */
export interface CheckpointContents {
  dir: string;
  state: CheckpointState;
  weights: Map<string, HostTensor>;
  optimizer: AdamWState | null;
}

/**
 * Reads and validates a checkpoint directory. Weights or moments holding NaN/±Inf are a NonFiniteTensorError
 * naming the file and the tensor, unless `allowNonFinite` (then `onWarning` is told).
 */
export async function readCheckpoint(
  dir: string,
  options: NonFiniteOptions = {},
): Promise<CheckpointContents> {
  const state = await readCheckpointState(dir);
  const weights = new Map<string, HostTensor>();
  const weightsPath = join(dir, state.weights.file);
  for (const [name, t] of (await readSafetensors(weightsPath)).tensors)
    weights.set(name, { shape: t.shape, data: t.data });
  checkFiniteHost(weights, weightsPath, options);
  let optimizer: AdamWState | null = null;
  if (state.optimizer) {
    const path = join(dir, state.optimizer.file);
    optimizer = await readOptimizer(path);
    checkFiniteHost(momentTensors(optimizer), path, options);
  }
  return { dir, state, weights, optimizer };
}

export interface LoadTarget extends NonFiniteOptions {
  /** The variables to restore, by the names they were saved under. */
  variables: ReadonlyMap<string, tf.Variable>;
  /** Optimizer to restore the moments into. */
  optimizer?: AdamW;
  /** Reject checkpoint variables the target does not have. Default true. */
  strict?: boolean;
}

/**
 * Restores a checkpoint into `target` and returns its state (step, epoch, data order, config, extra). Every
 * variable is checked first (present, same shape, float) so nothing changes unless all fit; a mismatch throws
 * CheckpointMismatchError naming the variable with the expected and the stored shape.
 */
export async function loadCheckpoint(dir: string, target: LoadTarget): Promise<CheckpointState> {
  const c = await readCheckpoint(dir, target);
  for (const [name, v] of target.variables) {
    const t = c.weights.get(name);
    if (!t)
      throw new CheckpointMismatchError(
        dir,
        name,
        `missing from the checkpoint (expected shape [${v.shape}])`,
      );
    if (t.shape.join() !== v.shape.join())
      throw new CheckpointMismatchError(dir, name, `expected shape [${v.shape}], got [${t.shape}]`);
    if (!(t.data instanceof Float32Array) || v.dtype !== 'float32')
      throw new CheckpointMismatchError(
        dir,
        name,
        `expected float32, got ${t.data instanceof Float32Array ? 'float' : 'int'} data`,
      );
  }
  if (target.strict ?? true) {
    for (const name of c.weights.keys())
      if (!target.variables.has(name))
        throw new CheckpointMismatchError(dir, name, 'in the checkpoint but not in the model');
  }
  if (target.optimizer && c.optimizer) target.optimizer.setState(c.optimizer); // validates before changing
  tf.tidy('loadCheckpoint', () => {
    for (const [name, v] of target.variables) {
      const t = c.weights.get(name)!;
      v.assign(tf.tensor(t.data, t.shape, 'float32'));
    }
  });
  return c.state;
}

/** Throws unless the file at `base.path` still has the recorded sha256 (a base saved apart must not change). */
export async function verifyBase(state: CheckpointState, path = state.base?.path): Promise<void> {
  if (!state.base || !path) return;
  const got = await sha256Base(path);
  if (got !== state.base.sha256)
    throw new Error(`base model ${path}: sha256 ${got} differs from the checkpoint's ${state.base.sha256}`);
}

/** Reads and validates a checkpoint's state.json (errors name the file). */
export async function readCheckpointState(dir: string): Promise<CheckpointState> {
  const path = join(dir, STATE_FILE);
  const text = await readFile(path, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw new FormatError(path, '', `cannot read (${e.code ?? e.message}); is ${dir} a complete checkpoint?`);
  });
  let s: CheckpointState;
  try {
    s = JSON.parse(text);
  } catch (e) {
    throw new FormatError(path, '', `not valid JSON (${(e as Error).message})`);
  }
  if (s?.format !== CHECKPOINT_FORMAT)
    throw new FormatError(
      path,
      'format',
      `expected "${CHECKPOINT_FORMAT}", got ${JSON.stringify(s?.format)}`,
    );
  if (s.formatVersion !== CHECKPOINT_FORMAT_VERSION)
    throw new FormatError(
      path,
      'formatVersion',
      `expected ${CHECKPOINT_FORMAT_VERSION}, got ${JSON.stringify(s.formatVersion)}`,
    );
  if (!Number.isInteger(s.step) || s.step < 0)
    throw new FormatError(path, 'step', `expected an integer ≥ 0, got ${JSON.stringify(s.step)}`);
  const file = s.weights?.file;
  if (typeof file !== 'string' || !/^(model|adapters)\.safetensors$/.test(file))
    throw new FormatError(
      path,
      'weights.file',
      `expected model.safetensors or adapters.safetensors, got ${JSON.stringify(file)}`,
    );
  if (s.optimizer !== null && s.optimizer?.file !== OPTIMIZER_FILE)
    throw new FormatError(
      path,
      'optimizer.file',
      `expected ${OPTIMIZER_FILE} or null, got ${JSON.stringify(s.optimizer?.file)}`,
    );
  return s;
}

async function readOptimizer(path: string): Promise<AdamWState> {
  const { tensors, metadata } = await readSafetensors(path);
  const step = Number(metadata.step);
  let steps: Record<string, number>;
  try {
    steps = JSON.parse(metadata.param_steps ?? 'null');
  } catch {
    throw new FormatError(path, '__metadata__', 'param_steps is not valid JSON');
  }
  if (!Number.isInteger(step) || steps === null || typeof steps !== 'object')
    throw new FormatError(
      path,
      '__metadata__',
      'expected "step" and "param_steps" written by saveCheckpoint',
    );
  const slots = new Map<string, AdamWSlot>();
  for (const [name, t] of Object.entries(steps)) {
    const m = tensors.get(`m.${name}`);
    const v = tensors.get(`v.${name}`);
    if (!m || !v) throw new FormatError(path, `tensor m.${name}`, 'moments m and v must both be present');
    if (
      !(m.data instanceof Float32Array) ||
      !(v.data instanceof Float32Array) ||
      m.shape.join() !== v.shape.join()
    )
      throw new FormatError(path, `tensor m.${name}`, 'moments m and v must be float tensors of one shape');
    slots.set(name, { shape: m.shape, m: m.data, v: v.data, step: t });
  }
  if (tensors.size !== 2 * slots.size)
    throw new FormatError(path, '', `${tensors.size - 2 * slots.size} tensors without a param_steps entry`);
  return { step, slots };
}

// ---------------------------------------------------------------- small helpers

/** Hex sha256 of a file (streamed). */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** A base directory's files that hold the model (the weights and their shapes); tokenizer files are not part of it. */
const isModelFile = (name: string) =>
  name === 'config.json' || name.endsWith('.safetensors') || name === 'model.safetensors.index.json';

const baseHashes = new Map<string, { stamp: string; sha256: string }>();

/**
 * Hex sha256 of a base model: a file's bytes (a llama2.c .bin), or for a Hugging Face directory one hash over the
 * name and sha256 of each file holding the model (config.json, *.safetensors, the shard index), sorted by name.
 * Cached per path while no such file changes size or modification time: a checkpoint records it at every save, and
 * hashing a real model's weights takes seconds.
 */
export async function sha256Base(path: string): Promise<string> {
  const info = await stat(path);
  const files = info.isDirectory() ? (await readdir(path)).filter(isModelFile).sort() : [null];
  const stats = await Promise.all(files.map((f) => stat(f === null ? path : join(path, f))));
  const stamp = files.map((f, i) => `${f}:${stats[i].size}:${stats[i].mtimeMs}`).join('|');
  const cached = baseHashes.get(path);
  if (cached?.stamp === stamp) return cached.sha256;
  let sha256: string;
  if (!info.isDirectory()) sha256 = await sha256File(path);
  else {
    if (!files.length)
      throw new Error(`base model ${path}: a directory without config.json or safetensors files`);
    const all = createHash('sha256');
    for (const f of files) all.update(`${f}\0${await sha256File(join(path, f as string))}\n`);
    sha256 = all.digest('hex');
  }
  baseHashes.set(path, { stamp, sha256 });
  return sha256;
}

let cachedVersion: string | undefined;
/** This package's version from its package.json (two levels up from src/io or dist/io). */
async function libraryVersion(): Promise<string> {
  cachedVersion ??= await readFile(new URL('../../package.json', import.meta.url), 'utf8')
    .then((t) => String(JSON.parse(t).version))
    .catch(() => 'unknown');
  return cachedVersion;
}

async function isFile(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isFile(),
    () => false,
  );
}

/** fsync a directory so renames inside it are durable (no-op where directories cannot be opened, e.g. Windows). */
async function fsyncDir(dir: string): Promise<void> {
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch (e) {
    if (!['EISDIR', 'EPERM', 'EACCES', 'EINVAL'].includes((e as NodeJS.ErrnoException).code ?? '')) throw e;
  } finally {
    await fh?.close();
  }
}
