// A training run in a directory, as `mote train` runs it, printing nothing: the config layers resolved (on resume,
// over the config the run saved), the model rebuilt (run/load.ts `buildRunModel`) and checked against a resumed
// checkpoint, the chains prepared (run/data.ts), then `train` with atomic checkpoints, metrics.jsonl, and loss.svg
// at the end. Progress and notes go through `onEvent`.
//
//   <dir>/config.json      the resolved RunConfig (rewritten when a run resumes)
//   <dir>/metrics.jsonl    one line per step and held-out evaluation
//   <dir>/loss.svg         the loss curves per split and step type
//   <dir>/checkpoints/     step-N/ directories and the `latest` pointer (train/checkpoint.ts)
//   <dir>/.lock            held while the run writes (run/lock.ts): a second run on the directory is refused
//
// A resumed run continues the newest checkpoint that reads back intact (or the one named: train/resume.ts), drops
// the metrics rows written after it, and sets newer checkpoints aside; every such step is told as a note.
import { join, resolve } from 'node:path';
import { describeExperts } from '../experts/kinds.js';
import { writeFileAtomic } from '../io/atomic.js';
import {
  type CheckpointState,
  checkpointsDir,
  latestCheckpoint,
  listCheckpoints,
  verifyBase,
} from '../train/checkpoint.js';
import { fileCheckpointer } from '../train/checkpointer.js';
import { NonFiniteError } from '../train/clip.js';
import { evaluate } from '../train/evaluate.js';
import { lastGoodCheckpoint, resumePoint, setAsideNewer } from '../train/resume.js';
import type { TrainEvent, TrainResult } from '../train/trainer.js';
import { train } from '../train/trainer-node.js';
import { cleanupAfterFailure, withCleanup } from '../util/cleanup.js';
import { type NonFiniteOptions, NonFiniteTensorError } from '../util/finite.js';
import {
  checkRunConfigInput,
  mergeRunConfig,
  type RunConfig,
  type RunConfigInput,
  resolveRunConfig,
  settingChanges,
  shapeMismatches,
} from './config.js';
import { prepareChains } from './data.js';
import { buildRunModel } from './load.js';
import { lockRunDir } from './lock.js';
import { keepOlderMetrics, metricsWriter, truncateMetrics, writeLossPlot } from './metrics.js';

/** The files of a run directory. */
export interface RunFiles {
  dir: string;
  config: string;
  metrics: string;
  plot: string;
  checkpoints: string;
}

/** Where a run directory keeps its files. */
export function runFiles(dir: string): RunFiles {
  const abs = resolve(dir);
  return {
    dir: abs,
    config: join(abs, 'config.json'),
    metrics: join(abs, 'metrics.jsonl'),
    plot: join(abs, 'loss.svg'),
    checkpoints: checkpointsDir(abs),
  };
}

/** A run resolved and ready to start: its directory, config, and the checkpoint it continues (if resuming). */
export interface PlannedRun {
  files: RunFiles;
  config: RunConfig;
  /** The state of the checkpoint a resumed run continues, or null for a fresh run. */
  resumed: CheckpointState | null;
  /** Its directory, or null for a fresh run. */
  resumeFrom: string | null;
  /** What planning found that the user should read (newer checkpoints that did not read back). */
  notes: string[];
  /** The highest checkpoint step in the directory when planned (null: none); trainRun refuses if it changed. */
  newestStep: number | null;
}

export interface PlanRunOptions extends NonFiniteOptions {
  /** Defaults under everything else (e.g. the bundled base model). */
  defaults?: RunConfigInput;
  /** Config layers in increasing priority (a config file, then flags). */
  layers?: readonly RunConfigInput[];
  /**
   * Continue the run: true (or '') for its newest intact checkpoint, or one named `step-N` / `N` / a directory;
   * the checkpoint's saved config becomes the layer above `defaults`.
   */
  resume?: boolean | string;
}

/**
 * Resolves the config of a run in `dir` (file header). A fresh run refuses a directory that already holds a
 * checkpoint, and a resume one that holds none; nothing is written.
 */
export async function planRun(dir: string, options: PlanRunOptions = {}): Promise<PlannedRun> {
  const files = runFiles(dir);
  const layers: RunConfigInput[] = options.defaults ? [options.defaults] : [];
  const latest = await latestCheckpoint(files.dir);
  let resumed: CheckpointState | null = null;
  let resumeFrom: string | null = null;
  const notes: string[] = [];
  if (options.resume !== undefined && options.resume !== false) {
    const which = options.resume === true ? undefined : options.resume;
    // validated here, warned about once when the trainer restores it
    const point = await resumePoint(files.dir, which, { allowNonFinite: options.allowNonFinite });
    if (!point) throw new Error(`--resume: no checkpoint in ${files.checkpoints} (start without --resume)`);
    for (const s of point.skipped)
      notes.push(`warning: checkpoint ${s.dir} does not read back (${s.reason}); passed over`);
    if (point.skipped.length) notes.push(`resuming from the newest intact checkpoint, ${point.dir}`);
    ({ state: resumed, dir: resumeFrom } = point);
    layers.push(checkRunConfigInput(resumed.config, `${join(resumeFrom, 'state.json')} (config)`));
  } else if (latest) {
    throw new Error(
      `${files.dir} already holds a checkpoint (${latest}): pass --resume to continue it, or choose another --out (nothing was changed)`,
    );
  }
  layers.push(...(options.layers ?? []));
  const newestStep = (await listCheckpoints(files.dir)).at(-1)?.step ?? null;
  const config = resolveRunConfig(mergeRunConfig(...layers));
  return { files, config, resumed, resumeFrom, notes, newestStep };
}

/** What `trainRun` reports besides the trainer's events. */
export type RunEvent =
  | TrainEvent
  /** Something the user should read: data encoding, a setting changed on resume, an older metrics file kept. */
  | { type: 'note'; message: string }
  /** The config the run is about to write as config.json (with the loaded model's shape). */
  | { type: 'config'; config: RunConfig };

export interface TrainRunOptions extends NonFiniteOptions {
  /** Aborting saves a checkpoint after the current step and returns (`result.stopped`). */
  signal?: AbortSignal;
  onEvent?: (e: RunEvent) => void;
  /** What runs it, recorded in the run directory's lock (e.g. 'mote train'). */
  command?: string;
}

export interface TrainRunResult {
  config: RunConfig;
  files: RunFiles;
  /** The trainer's result; null when the signal aborted before the first step (nothing written but config.json). */
  result: TrainResult | null;
  seconds: number;
}

/** Runs a planned run to its end (or to an abort) in its directory, holding its lock (file header). */
export async function trainRun(plan: PlannedRun, options: TrainRunOptions = {}): Promise<TrainRunResult> {
  const emit = options.onEvent ?? (() => {});
  for (const message of plan.notes) emit({ type: 'note', message });
  const lock = await lockRunDir(plan.files.dir, { command: options.command });
  if (lock.tookOver)
    emit({ type: 'note', message: `took over the stale lock ${lock.path} (${lock.tookOver.reason})` });
  return withCleanup(
    () => lockedRun(plan, options, emit),
    () => lock.release(),
  );
}

async function lockedRun(
  plan: PlannedRun,
  options: TrainRunOptions,
  emit: (e: RunEvent) => void,
): Promise<TrainRunResult> {
  const { files, resumed } = plan;
  await checkPlanHolds(plan);
  const config: RunConfig = { ...plan.config, model: { ...plan.config.model } };
  const note = (message: string) => emit({ type: 'note', message });
  const finite = { allowNonFinite: options.allowNonFinite, onWarning: (m: string) => note(`warning: ${m}`) };
  const { model, tokenizer } = await buildRunModel(config, finite);
  let done: TrainRunResult;
  try {
    const asked = config.model.config;
    config.model.config = { ...model.config };
    const differs = Object.entries(asked ?? {}).filter(
      ([k, v]) => JSON.stringify(v) !== JSON.stringify(model.config[k as keyof typeof model.config]),
    );
    if (differs.length)
      throw new Error(
        `model.config does not match ${config.model.base} (with step tokens): ${differs.map(([k, v]) => `${k} ${JSON.stringify(v)} ≠ ${JSON.stringify(model.config[k as keyof typeof model.config])}`).join(', ')}`,
      );
    if (resumed) {
      const bad = shapeMismatches(resumed.config, config);
      if (bad.length)
        throw new Error(
          `--resume: this run's model/expert shape differs from the checkpoint's (step ${resumed.step}):\n  ${bad.join('\n  ')}\nstart a new run with another --out instead`,
        );
      for (const c of settingChanges(resumed.config, config))
        note(`warning: resuming with a changed setting: ${c}`);
      if (config.experts) await verifyBase(resumed, config.model.base);
    }
    const { data, notes } = await prepareChains(
      config.data,
      tokenizer,
      model.config.maxSeqLen,
      config.train.seed,
    );
    for (const n of notes) note(n);
    emit({ type: 'config', config });
    await writeFileAtomic(files.config, `${JSON.stringify(config, null, 2)}\n`);
    if (resumed) {
      for (const aside of await setAsideNewer(files.dir, resumed.step))
        note(`a checkpoint newer than step ${resumed.step} was set aside as ${aside}`);
      const removed = await truncateMetrics(files.metrics, resumed.step);
      if (removed)
        note(
          `${files.metrics}: removed ${removed} line(s) after step ${resumed.step}, written after that checkpoint`,
        );
    } else {
      const aside = await keepOlderMetrics(files.metrics);
      if (aside) note(`an older ${files.metrics} was kept as ${aside}`);
    }
    if (options.signal?.aborted) done = { config, files, result: null, seconds: 0 };
    else done = await trainLoaded(plan, config, model, data, options, emit);
  } catch (e) {
    await cleanupAfterFailure(e, () => model.dispose());
    throw e;
  }
  model.dispose();
  return done;
}

/** The part of `trainRun` after loading: the trainer with checkpoints and metrics, then the loss plot. */
async function trainLoaded(
  plan: PlannedRun,
  config: RunConfig,
  model: Awaited<ReturnType<typeof buildRunModel>>['model'],
  data: Awaited<ReturnType<typeof prepareChains>>['data'],
  options: TrainRunOptions,
  emit: (e: RunEvent) => void,
): Promise<TrainRunResult> {
  const { files, resumed } = plan;
  const seqLen = Math.max(...[...data.train, ...(data.eval ?? [])].map((e) => e.ids.length));
  const { maxSteps, ...trainConfig } = config.train;
  const metrics = metricsWriter(files.metrics);
  const onEvent = (e: TrainEvent) => {
    metrics.onEvent(e);
    emit(e);
  };
  const t0 = performance.now();
  try {
    if (data.eval && !resumed) {
      const evalOptions = { batchSize: trainConfig.microBatchSize, seqLen, mode: config.data.mode };
      onEvent({ type: 'eval', step: 0, result: await evaluate(model, data.eval, evalOptions) });
    }
    const result = await train(model, data, trainConfig, {
      seqLen,
      mode: config.data.mode,
      maxSteps: maxSteps ?? undefined,
      checkpointer: fileCheckpointer(model, {
        outDir: files.dir,
        keepLast: trainConfig.keepLast,
        basePath: config.experts ? config.model.base : undefined,
        config,
        resumeFrom: plan.resumeFrom ?? undefined,
        allowNonFinite: options.allowNonFinite,
        onWarning: (m) => emit({ type: 'note', message: `warning: ${m}` }),
      }),
      resume: resumed !== null,
      signal: options.signal,
      onEvent,
    });
    await metrics.flush();
    await writeLossPlot(files.metrics, files.plot, {
      title: `mote train: ${config.experts ? describeExperts(config.experts) : 'full fine-tuning'}`,
    });
    return { config, files, result, seconds: (performance.now() - t0) / 1000 };
  } catch (e) {
    await metrics.flush().catch(() => {});
    throw await explainFailure(e, files.dir);
  }
}

/** Refuses to start when another run changed the directory's checkpoints between planning and locking. */
async function checkPlanHolds(plan: PlannedRun): Promise<void> {
  const newest = (await listCheckpoints(plan.files.dir)).at(-1);
  if (!plan.resumed && newest)
    throw new Error(
      `${plan.files.dir} holds a checkpoint (${newest.dir}) written since this run was planned: pass --resume to continue it, or choose another --out`,
    );
  if (plan.resumed && newest && newest.step > (plan.newestStep ?? -1))
    throw new Error(
      `${plan.files.dir}: checkpoint ${newest.dir} was written since this run was planned (by another run); plan the resume again`,
    );
}

/**
 * A non-finite loss, or weights that turned non-finite before a save, says which checkpoint of the run is the last
 * good one (the newest that reads back with finite values); other errors are returned as they are.
 */
export async function explainFailure(e: unknown, dir: string): Promise<unknown> {
  if (e instanceof NonFiniteError || e instanceof NonFiniteTensorError) {
    const kept = await lastGoodCheckpoint(dir);
    e.message += `; training stopped, ${kept ? `the last good checkpoint is kept: ${kept}` : 'no checkpoint was saved yet'}`;
  }
  return e;
}
