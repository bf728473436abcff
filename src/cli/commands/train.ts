// `mote train`: fine-tune a base with MoTE (or a baseline) on AlignCoT chains. Resolves the run config (defaults <
// saved config on --resume < --config file < flags), prepares model and data, runs `train` with checkpoints,
// progress on stderr, metrics JSONL, loss plot and a summary; Ctrl-C saves a checkpoint and exits 130.
import { readFile, rename, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { ArgumentsCamelCase, CommandModule, InferredOptionTypes } from 'yargs';
import { EXPERT_KINDS, EXPERT_PRESETS, type ExpertPreset } from '../../experts/config.js';
import { writeFileAtomic } from '../../io/atomic.js';
import {
  type CheckpointState,
  checkpointsDir,
  latestCheckpoint,
  verifyBase,
} from '../../train/checkpoint.js';
import { fileCheckpointer } from '../../train/checkpointer.js';
import { SCHEDULE_KINDS } from '../../train/config.js';
import { evaluate } from '../../train/evaluate.js';
import { type TrainEvent, train } from '../../train/trainer.js';
import {
  checkRunConfigInput,
  mergeRunConfig,
  type RunConfig,
  type RunConfigInput,
  readRunConfigFile,
  resolveRunConfig,
  settingChanges,
  shapeMismatches,
} from '../config-file.js';
import { backendOption, setUpBackend } from '../options.js';
import { STORIES260K, TOK512 } from '../paths.js';
import { shouldDrawBar, trainProgress } from '../progress.js';
import { failedRunError, withCheckpointingInterrupt } from '../run-stop.js';
import { metricsWriter, prepareData, prepareModel } from '../train-setup.js';
import { runSummary } from '../train-summary.js';
import { writeLossPlot } from './plot.js';

// No yargs defaults below (except the run controls): a flag given wins over the config file, an absent one not.
const options = {
  out: {
    type: 'string',
    demandOption: true,
    describe: 'run directory: config.json, metrics.jsonl, loss.svg, checkpoints/',
  },
  config: {
    type: 'string',
    describe: 'run config JSON {model?, experts?, train?, data?}; flags override it',
  },
  resume: {
    type: 'boolean',
    default: false,
    describe: 'continue from OUT/checkpoints/latest (with OUT/config.json)',
  },
  ...backendOption,
  base: { type: 'string', describe: 'llama2.c .bin base model (default: bundled stories260K)' },
  tokenizer: { type: 'string', describe: 'llama2.c tokenizer.bin (default: bundled tok512)' },
  data: { type: 'string', describe: 'training chains JSONL' },
  'eval-data': { type: 'string', describe: 'held-out chains JSONL' },
  'eval-fraction': { type: 'number', describe: 'hold out this share of --data instead (seeded; default 0)' },
  'max-len': { type: 'number', describe: 'longest chain in tokens (default: the model context)' },
  'on-overflow': {
    choices: ['throw', 'drop', 'truncate-reasoning'] as const,
    describe: 'a chain longer than --max-len (default truncate-reasoning)',
  },
  mode: { choices: ['pad', 'pack'] as const, describe: 'one chain per row, or packed rows (default pad)' },
  experts: {
    choices: [...EXPERT_KINDS, 'none'] as const,
    describe: 'adapters; none = full fine-tuning (default mote)',
  },
  preset: {
    choices: Object.keys(EXPERT_PRESETS) as ExpertPreset[],
    describe: 'a Table 4 architecture (experts/config.ts)',
  },
  rank: { type: 'number', describe: 'LoRA rank of every expert (default 16)' },
  alpha: {
    type: 'number',
    describe: 'weight α of the step expert; the shared expert gets 1 − α (default 0.5)',
  },
  'lora-alpha': {
    type: 'number',
    describe: 'LoRA scaling numerator: scaling = lora-alpha / rank (default rank)',
  },
  shared: { type: 'boolean', describe: 'a shared expert on every token (--no-shared: without)' },
  'step-skip': { type: 'number', describe: 'probability of step skipping per chain (default 0)' },
  epochs: { type: 'number', describe: 'passes over the data (default 3)' },
  lr: { type: 'number', describe: 'peak learning rate (default 2e-5)' },
  'batch-size': { type: 'number', describe: 'sequences per optimizer step (default 16)' },
  'micro-batch-size': {
    type: 'number',
    describe: 'sequences per forward pass; gradients accumulate (default batch size)',
  },
  warmup: { type: 'number', describe: 'warm-up steps (default 0)' },
  schedule: { choices: SCHEDULE_KINDS, describe: 'decay after warm-up (default cosine)' },
  clip: { type: 'number', describe: 'global gradient-norm clip, 0 = off (default 1)' },
  'weight-decay': { type: 'number', describe: 'AdamW decoupled weight decay (default 0.01)' },
  seed: { type: 'number', describe: 'seed of data order, step skipping, adapter init (default 0)' },
  'max-steps': {
    type: 'number',
    describe: 'stop after this many optimizer steps (the schedule still spans all)',
  },
  'eval-every': { type: 'number', describe: 'held-out loss every N steps, 0 = at the end (default 100)' },
  'save-every': { type: 'number', describe: 'checkpoint every N steps, 0 = at the end (default 500)' },
  'keep-last': { type: 'number', describe: 'checkpoints kept (default 3)' },
  workers: {
    type: 'string',
    describe:
      "worker threads computing each step's gradients: N, or auto = the cores when the steps are large enough, else 1 (default auto)",
  },
} as const;

type Args = ArgumentsCamelCase<InferredOptionTypes<typeof options>>;

export const trainCommand: CommandModule<object, Args> = {
  command: 'train',
  describe: 'fine-tune a base model with MoTE experts (or a baseline) on AlignCoT chains',
  builder: (y) => y.options(options) as never,
  handler: (a) => withCheckpointingInterrupt((signal, setLog) => runTrain(a, signal, setLog)),
};

/** The flags as a config layer (paths made absolute against the working directory). */
function flagLayer(a: Args): RunConfigInput {
  const path = (p?: string) => (p === undefined ? undefined : resolve(p));
  return {
    model: { base: path(a.base), tokenizer: path(a.tokenizer) },
    experts: {
      kind: a.experts,
      preset: a.preset,
      rank: a.rank,
      alpha: a.alpha,
      loraAlpha: a.loraAlpha,
      shared: a.shared,
    },
    train: {
      epochs: a.epochs,
      learningRate: a.lr,
      batchSize: a.batchSize,
      microBatchSize: a.microBatchSize,
      warmupSteps: a.warmup,
      schedule: a.schedule,
      clipNorm: a.clip,
      weightDecay: a.weightDecay,
      seed: a.seed,
      maxSteps: a.maxSteps,
      evalEvery: a.evalEvery,
      saveEvery: a.saveEvery,
      keepLast: a.keepLast,
      stepSkipProb: a.stepSkip,
      workers: workersFlag(a.workers),
    },
    data: {
      train: path(a.data),
      eval: path(a.evalData),
      evalFraction: a.evalFraction,
      maxLen: a.maxLen,
      onOverflow: a.onOverflow,
      mode: a.mode,
    },
  };
}

/** `--workers 2` → 2, `auto` stays; anything else is passed on for resolveTrainConfig to reject by name. */
function workersFlag(v: string | undefined): number | 'auto' | undefined {
  if (v === undefined) return undefined;
  return (/^\d+$/.test(v.trim()) ? Number(v) : v) as number | 'auto';
}

/** Config layers → resolved run; on --resume also the checkpoint to continue (its state.json). */
async function resolveRun(
  a: Args,
  out: string,
): Promise<{ run: RunConfig; resumed: CheckpointState | null }> {
  const layers: RunConfigInput[] = [{ model: { base: STORIES260K, tokenizer: TOK512 } }];
  const latest = await latestCheckpoint(out);
  let resumed: CheckpointState | null = null;
  if (a.resume) {
    if (!latest)
      throw new Error(`--resume: no checkpoint in ${checkpointsDir(out)} (start without --resume)`);
    resumed = JSON.parse(await readFile(join(latest, 'state.json'), 'utf8')) as CheckpointState;
    const saved = await readFile(join(out, 'config.json'), 'utf8').catch(() => null);
    layers.push(checkRunConfigInput(saved ? JSON.parse(saved) : resumed.config, `${out}/config.json`));
  } else if (latest) {
    throw new Error(
      `${out} already holds a checkpoint (${latest}): pass --resume to continue it, or choose another --out (nothing was changed)`,
    );
  }
  if (a.config) layers.push(await readRunConfigFile(a.config));
  layers.push(flagLayer(a));
  return { run: resolveRunConfig(mergeRunConfig(...layers)), resumed };
}

async function runTrain(
  a: Args,
  signal: AbortSignal,
  setNote: (log: (line: string) => void) => void,
): Promise<void> {
  const out = resolve(a.out);
  const err = (line: string) => process.stderr.write(`${line}\n`);
  const { run, resumed } = await resolveRun(a, out);
  await setUpBackend(a.backend);
  const { model, tokenizer } = await prepareModel(run);
  try {
    const asked = run.model.config;
    run.model.config = { ...model.config };
    const differs = Object.entries(asked ?? {}).filter(
      ([k, v]) => JSON.stringify(v) !== JSON.stringify(model.config[k as keyof typeof model.config]),
    );
    if (differs.length)
      throw new Error(
        `model.config does not match ${run.model.base} (with step tokens): ${differs.map(([k, v]) => `${k} ${JSON.stringify(v)} ≠ ${JSON.stringify(model.config[k as keyof typeof model.config])}`).join(', ')}`,
      );
    if (resumed) {
      const bad = shapeMismatches(resumed.config, run);
      if (bad.length)
        throw new Error(
          `--resume: this run's model/expert shape differs from the checkpoint's (step ${resumed.step}):\n  ${bad.join('\n  ')}\nstart a new run with another --out instead`,
        );
      for (const c of settingChanges(resumed.config, run))
        err(`warning: resuming with a changed setting: ${c}`);
      if (run.experts.kind !== 'none') await verifyBase(resumed, run.model.base);
    }
    const { data, notes } = await prepareData(run, tokenizer, model.config.maxSeqLen);
    for (const n of notes) err(n);
    err(`config: ${JSON.stringify(run, null, 2)}`);
    await writeFileAtomic(join(out, 'config.json'), `${JSON.stringify(run, null, 2)}\n`);
    const metricsPath = join(out, 'metrics.jsonl');
    if (!resumed) await moveAside(metricsPath, err);
    if (signal.aborted) {
      err('interrupted before training started: no checkpoint written');
      process.exitCode = 130;
      return;
    }

    const seqLen = Math.max(...[...data.train, ...(data.eval ?? [])].map((e) => e.ids.length));
    const { maxSteps, ...trainConfig } = run.train;
    const progress = trainProgress(shouldDrawBar(), maxSteps);
    setNote(progress.log);
    const metrics = metricsWriter(metricsPath);
    const events: TrainEvent[] = [];
    const onEvent = (e: TrainEvent) => {
      events.push(e);
      metrics.onEvent(e);
      progress.onEvent(e);
    };
    const t0 = performance.now();
    try {
      if (data.eval && !resumed) {
        const evalOptions = { batchSize: trainConfig.microBatchSize, seqLen, mode: run.data.mode };
        onEvent({ type: 'eval', step: 0, result: await evaluate(model, data.eval, evalOptions) });
      }
      const result = await train(model, data, trainConfig, {
        seqLen,
        mode: run.data.mode,
        maxSteps: maxSteps ?? undefined,
        checkpointer: fileCheckpointer(model, {
          outDir: out,
          keepLast: trainConfig.keepLast,
          basePath: run.experts.kind === 'none' ? undefined : run.model.base,
          config: run,
        }),
        resume: resumed !== null,
        signal,
        onEvent,
      });
      progress.stop();
      await metrics.flush();
      const plot = join(out, 'loss.svg');
      await writeLossPlot(metricsPath, plot, { title: `mote train: ${run.experts.kind}` });
      const summary = runSummary({
        out,
        run,
        result,
        events,
        seconds: (performance.now() - t0) / 1000,
        plot,
      });
      err(summary.text);
      process.stdout.write(`${JSON.stringify(summary.json)}\n`);
      if (result.stopped) {
        err(`interrupted at step ${result.position.step}; resume with: mote train --out ${a.out} --resume`);
        process.exitCode = 130;
      }
    } catch (e) {
      throw await failedRunError(e, out, progress, metrics);
    }
  } finally {
    model.dispose();
  }
}

/** A fresh run keeps an older metrics file (of a run that saved no checkpoint) under a dated name. */
async function moveAside(path: string, err: (line: string) => void): Promise<void> {
  if (!(await stat(path).catch(() => null))) return;
  const aside = path.replace(/\.jsonl$/, `-${new Date().toISOString().replace(/[:.]/g, '-')}.jsonl`);
  await rename(path, aside);
  err(`an older ${path} was kept as ${aside}`);
}
