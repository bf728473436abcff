// `mote pretrain`: a byte-level BPE tokenizer and a small base model trained from scratch on a text corpus
// (default: the bundled HH-RLHF dialogues), for users who have no base model. Writes <out>/tokenizer.json (+
// tokenizer_config.json), config.json, checkpoints/, metrics.jsonl, loss.svg, model.bin (llama2.c v0, which cannot
// hold a BPE tokenizer: pair it with tokenizer.json) and hf/ (a HF Llama directory with its tokenizer), then prints
// a sample; `mote train --base <out>/model.bin --tokenizer <out>/tokenizer.json` (or `--base <out>/hf`) fine-tunes it.
// Ctrl-C or SIGTERM saves a checkpoint and exits 130 / 143; --resume continues it (the newest intact checkpoint).
// The run directory is locked while it runs (run/lock.ts).
import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { ArgumentsCamelCase, CommandModule, InferredOptionTypes } from 'yargs';
import { generate } from '../../generate/generate.js';
import { writeFileAtomic } from '../../io/atomic.js';
import { saveHfLlama } from '../../io/hf-llama-node.js';
import { saveLlama2c } from '../../io/llama2c-node.js';
import { MODEL_PRESETS, type ModelPreset } from '../../model/config.js';
import { bundledFile } from '../../run/bundled.js';
import { lockRunDir, type RunLock } from '../../run/lock.js';
import { keepOlderMetrics, metricsWriter, truncateMetrics, writeLossPlot } from '../../run/metrics.js';
import { explainFailure } from '../../run/train.js';
import { HfTokenizer } from '../../tokenizer/hf-tokenizer.js';
import { loadTokenizer, saveHfTokenizer } from '../../tokenizer/load-tokenizer-node.js';
import { checkpointsDir, latestCheckpoint } from '../../train/checkpoint.js';
import { fileCheckpointer } from '../../train/checkpointer.js';
import {
  type PretrainConfig,
  type PretrainConfigInput,
  type PretrainEvent,
  type PretrainResult,
  prepareCorpus,
  pretrainModel,
  resolvePretrainConfig,
} from '../../train/pretrain.js';
import { resumePoint, setAsideNewer } from '../../train/resume.js';
import { readCorpus } from '../../train/text-data-node.js';
import type { TrainEvent } from '../../train/trainer.js';
import { cleanupAfterFailure, withCleanup } from '../../util/cleanup.js';
import { checkWritableDir } from '../../util/writable.js';
import { backendOption, setUpBackend } from '../options.js';
import { shouldDrawBar, trainProgress } from '../progress.js';
import { stoppedExitCode, withCheckpointingInterrupt } from '../run-stop.js';
import { terminalJson, terminalSafe } from '../terminal-text.js';

export const HH_RLHF_CORPUS = bundledFile('data/hh_rlhf_harmless_base_test.jsonl.gz');

// No yargs defaults for the run's settings: on --resume the saved config is the base and only given flags change it.
const options = {
  out: {
    type: 'string',
    demandOption: true,
    describe:
      'run directory: tokenizer.json, model.bin, hf/, config.json, metrics.jsonl, loss.svg, checkpoints/',
  },
  resume: { type: 'boolean', default: false, describe: 'continue from OUT/checkpoints/latest' },
  ...backendOption,
  corpus: {
    type: 'string',
    describe:
      'text corpus: .txt (paragraphs), .jsonl (--text-field), optionally .gz (default: bundled HH-RLHF)',
  },
  'text-field': {
    type: 'string',
    describe: 'JSONL field of each document (default text; chosen for HH-RLHF)',
  },
  'vocab-size': { type: 'number', describe: 'BPE vocabulary incl. 3 specials and 256 bytes (default 2048)' },
  'min-frequency': { type: 'number', describe: 'least count of a merged pair (default 2)' },
  preset: {
    choices: Object.keys(MODEL_PRESETS) as ModelPreset[],
    describe: 'start the model shape from a preset (default: d 64, 4 layers, 4 heads, 2 kv heads)',
  },
  dim: { type: 'number', describe: 'model width' },
  layers: { type: 'number', describe: 'transformer blocks' },
  heads: { type: 'number', describe: 'query heads' },
  'kv-heads': { type: 'number', describe: 'key/value heads (divides --heads)' },
  hidden: { type: 'number', describe: 'SwiGLU hidden width' },
  'seq-len': { type: 'number', describe: 'tokens per training window = model context (default 256)' },
  epochs: { type: 'number', describe: 'passes over the corpus (default 1)' },
  lr: { type: 'number', describe: 'peak learning rate (default 2e-3)' },
  'batch-size': { type: 'number', describe: 'windows per optimizer step (default 16)' },
  'micro-batch-size': { type: 'number', describe: 'windows per forward pass (default: batch size)' },
  warmup: { type: 'number', describe: 'warm-up steps (default 20)' },
  'weight-decay': { type: 'number', describe: 'AdamW weight decay (default 0.1)' },
  'eval-fraction': { type: 'number', describe: 'share of documents held out (default 0.05)' },
  'eval-every': { type: 'number', describe: 'held-out loss every N steps, 0 = at the end (default 50)' },
  'save-every': { type: 'number', describe: 'checkpoint every N steps, 0 = at the end (default 100)' },
  'keep-last': { type: 'number', describe: 'checkpoints kept (default 3)' },
  seed: { type: 'number', describe: 'seed of split, initial weights and data order (default 0)' },
  'max-steps': {
    type: 'number',
    describe: 'stop after this many steps (the schedule still spans the epochs)',
  },
  'sample-prompt': {
    type: 'string',
    default: '\n\nHuman: Can you help me',
    defaultDescription: '"\\n\\nHuman: Can you help me"',
    describe: 'prompt of the sample printed at the end',
  },
  'sample-tokens': { type: 'number', default: 60, describe: 'tokens of the final sample (0 = none)' },
} as const;

type Args = ArgumentsCamelCase<InferredOptionTypes<typeof options>>;

/** What OUT/config.json holds: the corpus and the resolved pretraining config. */
interface PretrainRun {
  corpus: { path: string; textField: string };
  config: PretrainConfig;
  maxSteps: number | null;
}

export const pretrainCommand: CommandModule<object, Args> = {
  command: 'pretrain',
  describe: 'train a BPE tokenizer and a small base model from scratch on a text corpus',
  builder: (y) => y.options(options) as never,
  handler: (a) => withCheckpointingInterrupt((signal, setLog) => runPretrain(a, signal, setLog)),
};

// ---------------------------------------------------------------------------------------------------
// the run

async function runPretrain(a: Args, signal: AbortSignal, setNote: (log: (line: string) => void) => void) {
  const out = resolve(a.out);
  await checkWritableDir(a.out);
  const lock = await lockRunDir(out, { command: 'mote pretrain' });
  await withCleanup(
    () => lockedPretrain(a, out, signal, setNote, lock),
    () => lock.release(),
  );
}

async function lockedPretrain(
  a: Args,
  out: string,
  signal: AbortSignal,
  setNote: (log: (line: string) => void) => void,
  lock: RunLock,
) {
  const err = (line: string) => process.stderr.write(`${terminalSafe(line)}\n`);
  if (lock.tookOver) err(`took over the stale lock ${lock.path} (${lock.tookOver.reason})`);
  const saved = await savedRun(out, a.resume);
  const resumeFrom = a.resume ? await resumePoint(out) : null;
  for (const s of resumeFrom?.skipped ?? [])
    err(`warning: checkpoint ${s.dir} does not read back (${s.reason}); resuming from ${resumeFrom?.dir}`);
  const run = resolveRun(a, saved);
  if (saved) {
    const changed = changedShape(saved, run);
    if (changed.length)
      throw new Error(
        `--resume: ${changed.join(', ')} differ from ${out}/config.json; start a new run with another --out instead`,
      );
  }
  await setUpBackend(a.backend);
  if (run.corpus.path === HH_RLHF_CORPUS && !(await stat(HH_RLHF_CORPUS).catch(() => null)))
    throw new Error(
      `the bundled HH-RLHF corpus (${HH_RLHF_CORPUS}) is not in this installation: pass --corpus`,
    );
  const texts = await readCorpus(run.corpus.path, { textField: run.corpus.textField });
  err(`corpus: ${run.corpus.path} (${texts.length.toLocaleString('en-US')} documents)`);
  const t0 = performance.now();
  const prepared = await prepareCorpus(texts, run.config, {
    tokenizer: saved ? await loadTokenizer(join(out, 'tokenizer.json')) : undefined,
    onEvent: (e) => {
      if (e.type === 'tokenizer' && e.progress.stage === 'done')
        err(
          `tokenizer: ${e.progress.done} merges, ${e.progress.words.toLocaleString('en-US')} distinct words`,
        );
    },
  });
  const s = prepared.stats;
  err(
    `data: ${s.tokens.train.toLocaleString('en-US')} training tokens in ${s.windows.train} windows of ${run.config.seqLen} (${s.documents.train} documents, ${s.bytesPerToken.toFixed(2)} bytes/token), ${s.tokens.eval.toLocaleString('en-US')} held-out tokens (${s.documents.eval} documents); vocabulary ${s.vocabSize}`,
  );
  if (!saved && prepared.tokenizer instanceof HfTokenizer) await saveHfTokenizer(prepared.tokenizer, out);
  err(`config: ${JSON.stringify(run, null, 2)}`);
  await writeFileAtomic(join(out, 'config.json'), `${JSON.stringify(run, null, 2)}\n`);
  const metricsPath = join(out, 'metrics.jsonl');
  if (!saved) {
    const aside = await keepOlderMetrics(metricsPath);
    if (aside) err(`an older ${metricsPath} was kept as ${aside}`);
  } else if (resumeFrom) {
    for (const aside of await setAsideNewer(out, resumeFrom.state.step))
      err(`a checkpoint newer than step ${resumeFrom.state.step} was set aside as ${aside}`);
    const removed = await truncateMetrics(metricsPath, resumeFrom.state.step);
    if (removed)
      err(
        `${metricsPath}: removed ${removed} line(s) after step ${resumeFrom.state.step}, written after that checkpoint`,
      );
  }

  const progress = trainProgress(shouldDrawBar(), run.maxSteps);
  setNote(progress.log);
  const metrics = metricsWriter(metricsPath);
  const steps: Extract<TrainEvent, { type: 'step' }>[] = [];
  const onEvent = (e: PretrainEvent) => {
    if (e.type === 'tokenizer' || e.type === 'corpus') return;
    if (e.type === 'step') steps.push(e);
    metrics.onEvent(e);
    progress.onEvent(e);
  };
  let r: PretrainResult;
  try {
    r = await pretrainModel(prepared, run.config, {
      maxSteps: run.maxSteps ?? undefined,
      resume: saved !== null,
      signal,
      onEvent,
      checkpointer: (model) =>
        fileCheckpointer(model, {
          outDir: out,
          keepLast: run.config.train.keepLast,
          config: run,
          resumeFrom: resumeFrom?.dir,
        }),
    });
  } catch (e) {
    progress.stop();
    await metrics.flush().catch(() => {});
    throw await explainFailure(e, out);
  }
  try {
    progress.stop();
    await metrics.flush();
    await writeLossPlot(metricsPath, join(out, 'loss.svg'), { title: 'mote pretrain' });
    const seconds = (performance.now() - t0) / 1000;
    if (r.result.stopped) {
      err(
        `interrupted at step ${r.result.position.step}; resume with: mote pretrain --out ${a.out} --resume`,
      );
      process.exitCode = stoppedExitCode(signal);
      return;
    }
    await saveLlama2c(r.model, join(out, 'model.bin'));
    await saveHfLlama(r.model, join(out, 'hf'), {
      bosTokenId: r.tokenizer.bosId,
      eosTokenId: r.tokenizer.eosId,
    });
    if (r.tokenizer instanceof HfTokenizer) await saveHfTokenizer(r.tokenizer, join(out, 'hf'));
    const sample =
      a.sampleTokens > 0
        ? (
            await generate(r.model, r.tokenizer, a.samplePrompt, {
              maxTokens: a.sampleTokens,
              temperature: 0.8,
              topP: 0.95,
              seed: 0,
            })
          ).text
        : '';
    const summary = summarize(out, r, steps, seconds, sample, a.samplePrompt);
    err(summary.text);
    process.stdout.write(`${terminalJson(summary.json)}\n`);
  } catch (e) {
    await cleanupAfterFailure(e, () => r.model.dispose());
    throw e;
  }
  r.model.dispose();
}

/** On --resume, OUT/config.json (a checkpoint must exist); otherwise null (and OUT must hold no checkpoint). */
async function savedRun(out: string, resume: boolean): Promise<PretrainRun | null> {
  const latest = await latestCheckpoint(out);
  if (!resume) {
    if (latest)
      throw new Error(
        `${out} already holds a checkpoint (${latest}): pass --resume to continue it, or choose another --out (nothing was changed)`,
      );
    return null;
  }
  if (!latest) throw new Error(`--resume: no checkpoint in ${checkpointsDir(out)} (start without --resume)`);
  const path = join(out, 'config.json');
  const text = await readFile(path, 'utf8').catch(() => {
    throw new Error(`--resume: ${path} is missing (it records the corpus and shape of the run)`);
  });
  try {
    return JSON.parse(text) as PretrainRun;
  } catch (e) {
    throw new Error(
      `--resume: ${path} is not valid JSON (${(e as Error).message}); it records the corpus and shape of the run`,
    );
  }
}

/** Defaults < saved run (on --resume) < flags, resolved by the library (errors name the key). */
function resolveRun(a: Args, saved: PretrainRun | null): PretrainRun {
  const s = saved?.config;
  const path = a.corpus !== undefined ? resolve(a.corpus) : (saved?.corpus.path ?? HH_RLHF_CORPUS);
  const textField =
    a.textField ?? (a.corpus === undefined ? saved?.corpus.textField : undefined) ?? defaultField(path);
  const defined = <T extends object>(o: T): Partial<T> =>
    Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
  const input: PretrainConfigInput = {
    tokenizer: { ...s?.tokenizer, ...defined({ vocabSize: a.vocabSize, minFrequency: a.minFrequency }) },
    model: {
      ...(s ? { ...s.model, preset: s.preset } : {}),
      ...defined({
        preset: a.preset,
        dim: a.dim,
        numLayers: a.layers,
        numHeads: a.heads,
        numKvHeads: a.kvHeads,
        hiddenDim: a.hidden,
        maxSeqLen: a.seqLen,
        vocabSize: a.vocabSize,
      }),
    },
    train: {
      ...s?.train,
      ...defined({
        epochs: a.epochs,
        learningRate: a.lr,
        batchSize: a.batchSize,
        microBatchSize: a.microBatchSize ?? a.batchSize,
        warmupSteps: a.warmup,
        weightDecay: a.weightDecay,
        evalEvery: a.evalEvery,
        saveEvery: a.saveEvery,
        keepLast: a.keepLast,
        seed: a.seed,
      }),
    },
    ...defined({
      seqLen: a.seqLen ?? s?.seqLen,
      evalFraction: a.evalFraction ?? s?.evalFraction,
      seed: a.seed ?? s?.seed,
    }),
  };
  return {
    corpus: { path, textField },
    config: { ...resolvePretrainConfig(input) },
    maxSteps: a.maxSteps ?? saved?.maxSteps ?? null,
  };
}

/** The bundled HH-RLHF file keeps its dialogues in `chosen`; other JSONL in `text`. */
const defaultField = (path: string) => (path === HH_RLHF_CORPUS ? 'chosen' : 'text');

/** What a resumed run may not change: the corpus, the tokenizer, the model shape, the windows and the split. */
function changedShape(saved: PretrainRun, run: PretrainRun): string[] {
  const pick = (r: PretrainRun) => ({
    corpus: r.corpus,
    tokenizer: r.config.tokenizer,
    preset: r.config.preset,
    model: r.config.model,
    seqLen: r.config.seqLen,
    evalFraction: r.config.evalFraction,
    seed: r.config.seed,
  });
  const [was, now] = [pick(saved), pick(run)];
  return (Object.keys(was) as (keyof typeof was)[]).filter(
    (k) => JSON.stringify(was[k]) !== JSON.stringify(now[k]),
  );
}

/** The event without its per-step-type losses. */

/** The closing report: text for stderr, one JSON line for stdout. */
function summarize(
  out: string,
  r: PretrainResult,
  steps: Extract<TrainEvent, { type: 'step' }>[],
  seconds: number,
  sample: string,
  prompt: string,
): { text: string; json: object } {
  const tokens = steps.reduce((n, e) => n + (e.tokensPerSec * e.ms) / 1000, 0);
  const trainMs = steps.reduce((n, e) => n + e.ms, 0);
  const json = {
    out,
    step: r.result.position.step,
    seconds,
    parameters: r.model.parameterCount(),
    tokensTrained: Math.round(tokens),
    tokensPerSec: trainMs > 0 ? (tokens / trainMs) * 1000 : 0,
    loss: { first: steps[0]?.loss ?? null, last: steps.at(-1)?.loss ?? null },
    eval: { before: r.initialEval?.loss ?? null, after: r.result.eval?.loss ?? null },
    corpus: r.stats,
    files: {
      model: join(out, 'model.bin'),
      tokenizer: join(out, 'tokenizer.json'),
      hf: join(out, 'hf'),
      metrics: join(out, 'metrics.jsonl'),
      plot: join(out, 'loss.svg'),
    },
    sample: prompt + sample,
  };
  const f = (x: number | null) => (x === null ? '-' : x.toFixed(4));
  const text = [
    `pretrained ${json.parameters.toLocaleString('en-US')} parameters in ${seconds.toFixed(1)} s: ${json.step} steps, ${json.tokensTrained.toLocaleString('en-US')} tokens, ${json.tokensPerSec.toFixed(0)} tokens/s`,
    `train loss ${f(json.loss.first)} (step 1) → ${f(json.loss.last)} (step ${json.step}); held-out loss ${f(json.eval.before)} → ${f(json.eval.after)}`,
    `wrote ${json.files.model}, ${json.files.tokenizer}, ${json.files.hf}/ (Hugging Face Llama), ${json.files.metrics}, ${json.files.plot}`,
    `fine-tune it: mote train --base ${json.files.model} --tokenizer ${json.files.tokenizer} --data chains.jsonl --out run`,
    ...(sample ? [`sample: ${JSON.stringify(json.sample)}`] : []),
  ];
  return { text: text.join('\n'), json };
}
