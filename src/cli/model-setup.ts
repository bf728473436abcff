// Loading a model for inference (`mote generate`, `mote chat`, `mote eval`): a trained run directory of
// `mote train` (<run>/config.json + <run>/checkpoints/latest), or a plain base model with the step tokens added.
// A run is rebuilt exactly as `mote train` built it (train-setup.ts `prepareModel`: base, step tokens, experts)
// and its latest checkpoint restored into it: the trainable variables (adapters, new token rows) over a frozen
// base, or every variable after full fine-tuning.
import { readFile, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import type { Turn } from '../aligncot/chain.js';
import { formatQuestion } from '../aligncot/format.js';
import { loadModel } from '../io/load.js';
import type { Transformer } from '../model/transformer.js';
import { addStepTokens } from '../tokenizer/index.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { type CheckpointState, latestCheckpoint, loadCheckpoint, verifyBase } from '../train/checkpoint.js';
import { checkRunConfigInput, type RunConfig, resolveRunConfig } from './config-file.js';
import { prepareModel } from './train-setup.js';

/** A run directory's resolved config and the checkpoint to restore. */
export interface RunInfo {
  dir: string;
  config: RunConfig;
  /** The latest complete checkpoint directory. */
  checkpoint: string;
}

/** A model ready for inference, and what it is. */
export interface InferenceModel {
  model: Transformer;
  tokenizer: Tokenizer;
  /** A short name for reports: the run directory's name, or the base file's stem. */
  name: string;
  /** The attached experts' kind; 'none' for a plain model (untrained step tokens) or a fully fine-tuned run. */
  experts: RunConfig['experts']['kind'];
  /** The run's expert config, when it has experts. */
  run: RunInfo | null;
  /** The restored checkpoint's step, or null without a run. */
  step: number | null;
  /** One line saying what was loaded (for stderr). */
  description: string;
}

/**
 * Reads `<dir>/config.json` (the run config `mote train` saved) and finds `<dir>/checkpoints/latest`. Errors say
 * which file is missing or malformed and what a run directory holds.
 */
export async function loadRun(dir: string): Promise<RunInfo> {
  const abs = resolve(dir);
  const info = await stat(abs).catch(() => null);
  if (!info?.isDirectory())
    throw new Error(`--run ${dir}: not a directory; expected the --out directory of a \`mote train\` run`);
  const path = join(abs, 'config.json');
  const text = await readFile(path, 'utf8').catch(() => null);
  if (text === null)
    throw new Error(`--run ${dir}: no config.json; expected the --out directory of a \`mote train\` run`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`${path}: not valid JSON (${(e as Error).message})`);
  }
  const config = resolveRunConfig(checkRunConfigInput(json, path));
  const checkpoint = await latestCheckpoint(abs);
  if (!checkpoint)
    throw new Error(
      `--run ${dir}: no complete checkpoint in ${join(abs, 'checkpoints')}; train it first (mote train --out ${dir})`,
    );
  return { dir: abs, config, checkpoint };
}

/** What to load: a run directory, or else the base model and tokenizer files. */
export interface InferenceSource {
  run?: string;
  model: string;
  tokenizer: string;
}

/**
 * Loads a trained run (its base, step tokens, experts and latest checkpoint) when `run` is given, else the base
 * `model` with the step tokens added (untrained rows: staged modes still produce well-formed chains through
 * constrained decoding, but the content is the base model's). The caller disposes `model`.
 */
export async function loadForInference(source: InferenceSource): Promise<InferenceModel> {
  if (!source.run) {
    const { model, tokenizer } = await loadModel(source.model, { tokenizer: source.tokenizer });
    addStepTokens(tokenizer);
    const added = tokenizer.vocabSize - model.config.vocabSize;
    if (added > 0) model.addTokens(added);
    const name = basename(source.model).replace(/\.bin$/, '');
    return {
      model,
      tokenizer,
      name,
      experts: 'none',
      run: null,
      step: null,
      description: `model: ${source.model} (no experts; step tokens added, untrained)`,
    };
  }
  const run = await loadRun(source.run);
  const { config } = run;
  if (!(await stat(config.model.base).catch(() => null)))
    throw new Error(`--run ${source.run}: the run's base model ${config.model.base} is missing`);
  const { model, tokenizer } = await prepareModel(config);
  try {
    const state = await restore(model, run.checkpoint);
    if (config.experts.kind !== 'none') await verifyBase(state, config.model.base);
    const experts = config.experts.kind;
    const detail =
      config.experts.kind === 'none'
        ? 'full fine-tuning'
        : config.experts.kind === 'mote'
          ? `mote: ${config.experts.stepExperts.join(', ')}${config.experts.shared ? ' + shared' : ''}, rank ${config.experts.rank}`
          : `${config.experts.kind}, rank ${config.experts.rank}`;
    return {
      model,
      tokenizer,
      name: basename(run.dir),
      experts,
      run,
      step: state.step,
      description: `run: ${run.dir} (${detail}; checkpoint step ${state.step}; base ${config.model.base})`,
    };
  } catch (e) {
    model.dispose();
    throw e;
  }
}

/** Tokens of a question as generation feeds it (BOS + the formatted question or dialogue). */
export function promptLength(im: InferenceModel, question: string | readonly Turn[]): number {
  return im.tokenizer.encode(formatQuestion(question), { bos: true }).length;
}

/** Whether a question leaves room in the context for an answer block of `budget` tokens and its step tokens. */
export function fitsContext(im: InferenceModel, question: string | readonly Turn[], budget: number): boolean {
  return promptLength(im, question) + budget + 2 <= im.model.config.maxSeqLen;
}

/** Restores a checkpoint: the trainable variables ('adapters'), or every variable ('model'). */
async function restore(model: Transformer, dir: string): Promise<CheckpointState> {
  const all = model.namedVariables();
  const state = JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')) as CheckpointState;
  const variables = state.weights?.kind === 'model' ? all : new Map([...all].filter(([, v]) => v.trainable));
  return loadCheckpoint(dir, { variables });
}
