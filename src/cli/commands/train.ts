// `mote train`: fine-tune a base with MoTE (or a baseline) on AlignCoT chains. The flags become a config layer over
// the --config file (and, on --resume, the run's saved config); the run itself is the library's (run/train.ts:
// model, data, checkpoints, metrics.jsonl, loss.svg; the directory lock; which checkpoint a resume continues). This
// prints progress on stderr and a summary; Ctrl-C or SIGTERM saves a checkpoint and exits 130 / 143.
import { resolve } from 'node:path';
import type { ArgumentsCamelCase, CommandModule, InferredOptionTypes } from 'yargs';
import { EXPERT_KINDS, EXPERT_PRESETS, type ExpertPreset } from '../../experts/config.js';
import { BUNDLED } from '../../run/bundled.js';
import { type RunConfigInput, readRunConfigFile } from '../../run/config.js';
import { planRun, type RunEvent, trainRun } from '../../run/train.js';
import { SCHEDULE_KINDS } from '../../train/config.js';
import type { TrainEvent } from '../../train/trainer.js';
import { checkWritableDir } from '../../util/writable.js';
import { allowNonFiniteOption, backendOption, nonFiniteFlags, setUpBackend } from '../options.js';
import { shouldDrawBar, trainProgress } from '../progress.js';
import { stoppedExitCode, withCheckpointingInterrupt } from '../run-stop.js';
import { terminalJson, terminalSafe } from '../terminal-text.js';
import { runSummary } from '../train-summary.js';

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
    type: 'string',
    alias: 'resume-from',
    describe:
      'continue the run: its newest intact checkpoint (--resume), or one named (--resume step-N); its saved config is the base of the flags',
  },
  ...backendOption,
  ...allowNonFiniteOption,
  base: {
    type: 'string',
    describe: 'base model: a llama2.c .bin or a Hugging Face model directory (default: bundled stories260K)',
  },
  tokenizer: {
    type: 'string',
    describe: "its tokenizer file (default: bundled tok512; a HF directory's own tokenizer files)",
  },
  data: { type: 'string', describe: 'training chains JSONL' },
  'eval-data': { type: 'string', describe: 'held-out chains JSONL' },
  'eval-fraction': { type: 'number', describe: 'hold out this share of --data instead (seeded; default 0)' },
  'max-len': { type: 'number', describe: 'longest chain in tokens (default: the model context)' },
  'on-overflow': {
    choices: ['throw', 'drop', 'truncate-reasoning', 'truncate'] as const,
    describe:
      'a chain longer than --max-len: throw, drop, truncate-reasoning (default), or truncate (then the middle of the question too)',
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
  'activation-checkpointing': {
    type: 'boolean',
    describe:
      'recompute each block in the backward instead of keeping its activations: less memory, one more forward of the blocks per step (default off)',
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
    // --base without --tokenizer: the base's own tokenizer ('' = found beside it)
    model: { base: path(a.base), tokenizer: a.tokenizer ? path(a.tokenizer) : a.base ? '' : undefined },
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
      activationCheckpointing: a.activationCheckpointing,
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

/** `--resume` alone (or `--resume true`) → the newest intact checkpoint; `--resume step-N` → that one. */
function resumeFlag(v: string | undefined): boolean | string {
  if (v === undefined || v === 'false') return false;
  return v === '' || v === 'true' ? true : v;
}

/** `--workers 2` → 2, `auto` stays; anything else is passed on for resolveTrainConfig to reject by name. */
function workersFlag(v: string | undefined): number | 'auto' | undefined {
  if (v === undefined) return undefined;
  return (/^\d+$/.test(v.trim()) ? Number(v) : v) as number | 'auto';
}

async function runTrain(
  a: Args,
  signal: AbortSignal,
  setNote: (log: (line: string) => void) => void,
): Promise<void> {
  const err = (line: string) => process.stderr.write(`${line}\n`);
  const layers = [...(a.config ? [await readRunConfigFile(a.config)] : []), flagLayer(a)];
  // the bundled tokenizer goes with the bundled base only: another base brings its own (or names it)
  const ownBase = layers.some((l) => l.model?.base !== undefined);
  const finite = nonFiniteFlags(a);
  const plan = await planRun(a.out, {
    defaults: ownBase ? {} : { model: { base: BUNDLED.model, tokenizer: BUNDLED.tokenizer } },
    layers,
    resume: resumeFlag(a.resume),
    ...finite,
  });
  await checkWritableDir(a.out);
  await setUpBackend(a.backend);
  const progress = trainProgress(shouldDrawBar(), plan.config.train.maxSteps);
  const events: TrainEvent[] = [];
  let started = false;
  const onEvent = (e: RunEvent) => {
    if (e.type === 'note') err(terminalSafe(e.message));
    else if (e.type === 'config') err(`config: ${JSON.stringify(e.config, null, 2)}`);
    else {
      if (!started) setNote(progress.log);
      started = true;
      events.push(e);
      progress.onEvent(e);
    }
  };
  let run: Awaited<ReturnType<typeof trainRun>>;
  try {
    run = await trainRun(plan, { signal, onEvent, command: 'mote train', ...finite });
  } finally {
    progress.stop();
  }
  const { result, files } = run;
  if (!result) {
    err('interrupted before training started: no checkpoint written');
    process.exitCode = stoppedExitCode(signal);
    return;
  }
  const summary = runSummary({
    out: files.dir,
    run: run.config,
    result,
    events,
    seconds: run.seconds,
    plot: files.plot,
  });
  err(summary.text);
  process.stdout.write(`${terminalJson(summary.json)}\n`);
  if (result.stopped) {
    err(`interrupted at step ${result.position.step}; resume with: mote train --out ${a.out} --resume`);
    process.exitCode = stoppedExitCode(signal);
  }
}
