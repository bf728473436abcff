// Loading a training run back without the CLI: a run directory of `mote train` (its latest checkpoint under
// checkpoints/) or one checkpoint directory (…/checkpoints/step-N). The model is rebuilt as it was trained
// (run/base.ts: base and step tokens; the experts of the run's config) and the checkpoint restored into it: the
// trainable variables (adapters, routers, new token rows) over the frozen base, or every variable after full
// fine-tuning. A base that adapters were saved apart from must be unchanged (its sha256 is checked).
import { stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { attachExperts } from '../experts/attach.js';
import type { ExpertConfig } from '../experts/config.js';
import { describeExperts } from '../experts/kinds.js';
import type { Transformer } from '../model/transformer.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import {
  type CheckpointState,
  latestCheckpoint,
  loadCheckpoint,
  readCheckpointState,
  verifyBase,
} from '../train/checkpoint.js';
import { cleanupAfterFailure } from '../util/cleanup.js';
import type { NonFiniteOptions } from '../util/finite.js';
import { loadBase } from './base.js';
import { checkRunConfigInput, type RunConfig, resolveRunConfig } from './config.js';

/** Other files for the base than the ones the run recorded (a moved base, or its HF export). */
export interface BaseOverrides {
  base?: string;
  tokenizer?: string;
}

/** Where a run's checkpoint is and what it holds, before any model is built. */
export interface RunCheckpoint {
  /** The run directory, or null for a checkpoint directory outside one. */
  dir: string | null;
  /** The checkpoint directory. */
  checkpoint: string;
  state: CheckpointState;
  /** The run's resolved config, as saved with the checkpoint (with any overrides). */
  config: RunConfig;
}

/** A run's model restored from its checkpoint. The caller disposes `model`. */
export interface LoadedRun extends RunCheckpoint {
  model: Transformer;
  tokenizer: Tokenizer;
  /** Optimizer steps the checkpoint was taken after. */
  step: number;
  /** A short name for reports: the run directory's name. */
  name: string;
  /** One line saying what was loaded. */
  description: string;
}

/**
 * Finds the checkpoint of `path` (itself when it holds state.json, else the run's latest) and reads its state and
 * config. Errors say what a run directory holds.
 */
export async function readRunCheckpoint(path: string, overrides: BaseOverrides = {}): Promise<RunCheckpoint> {
  const abs = resolve(path);
  const info = await stat(abs).catch(() => null);
  if (!info?.isDirectory())
    throw new Error(
      `${path}: not a directory; expected a \`mote train\` run directory or one of its checkpoints`,
    );
  let checkpoint = abs;
  let dir: string | null = dirname(dirname(abs));
  if (!(await stat(join(abs, 'state.json')).catch(() => null))) {
    const latest = await latestCheckpoint(abs);
    if (!latest)
      throw new Error(
        `${path}: no complete checkpoint in ${join(abs, 'checkpoints')} (and no state.json); train it first (mote train --out ${path})`,
      );
    [checkpoint, dir] = [latest, abs];
  } else if (basename(dirname(abs)) !== 'checkpoints') dir = null;
  const state = await readCheckpointState(checkpoint);
  const saved = checkRunConfigInput(state.config, `${join(checkpoint, 'state.json')} (config)`);
  if (overrides.base) saved.model = { ...saved.model, base: resolve(overrides.base) };
  if (overrides.tokenizer) saved.model = { ...saved.model, tokenizer: resolve(overrides.tokenizer) };
  return { dir, checkpoint, state, config: resolveRunConfig(saved) };
}

/**
 * Builds a run's model and restores its checkpoint (file header). Throws when the base is missing or changed, when
 * the checkpoint does not fit the rebuilt model (naming the variable), or when the base or the checkpoint holds
 * NaN/±Inf (naming the file and tensor; `finite.allowNonFinite` loads it with a warning instead).
 */
export async function loadRun(
  path: string,
  overrides: BaseOverrides = {},
  finite: NonFiniteOptions = {},
): Promise<LoadedRun> {
  const found = await readRunCheckpoint(path, overrides);
  const { config, state, checkpoint } = found;
  if (!(await stat(config.model.base).catch(() => null)))
    throw new Error(`${path}: the run's base model ${config.model.base} is missing`);
  if (config.experts) await verifyBase(state, config.model.base);
  const { model, tokenizer } = await buildRunModel(config, finite);
  try {
    const all = model.namedVariables();
    const variables = state.weights.kind === 'model' ? all : new Map([...all].filter(([, v]) => v.trainable));
    await loadCheckpoint(checkpoint, { variables, ...finite });
  } catch (e) {
    await cleanupAfterFailure(e, () => model.dispose());
    throw e;
  }
  const what = config.experts ? describeExperts(config.experts) : 'full fine-tuning';
  return {
    ...found,
    model,
    tokenizer,
    step: state.step,
    name: basename(found.dir ?? checkpoint),
    description: `run: ${found.dir ?? checkpoint} (${what}; checkpoint step ${state.step}; base ${config.model.base})`,
  };
}

/** The model of a run config before training: its base with the step tokens, and its experts (if any) attached. */
export async function buildRunModel(
  config: RunConfig,
  finite: NonFiniteOptions = {},
): Promise<{ model: Transformer; tokenizer: Tokenizer }> {
  const { model, tokenizer } = await loadBase(
    { model: config.model.base, tokenizer: config.model.tokenizer },
    // the context the run asked for (model.config.maxSeqLen), or the one it was trained with when resumed
    { trainable: config.experts === null, maxSeqLen: config.model.config?.maxSeqLen, ...finite },
  );
  if (config.experts) attachExperts(model, config.experts);
  return { model, tokenizer };
}

/** What generation runs on: a trained run, or a base model with the step tokens added (untrained rows). */
export interface InferenceModel {
  model: Transformer;
  tokenizer: Tokenizer;
  /** A short name for reports: the run directory's name, or the base file's stem. */
  name: string;
  /** The attached experts' config; null for a plain base or a fully fine-tuned run. */
  experts: Readonly<ExpertConfig> | null;
  /** The loaded run, or null for a base model. */
  run: LoadedRun | null;
  /** One line saying what was loaded. */
  description: string;
}

/** Where to load a model for generation from: a run directory, else base model files. */
export interface InferenceSource extends NonFiniteOptions {
  run?: string;
  model: string;
  tokenizer?: string;
  /** A base model's context (loadBase `maxSeqLen`; a run keeps the one it was trained with). Default 4096. */
  maxSeqLen?: number | null;
}

/**
 * Loads a trained run (its base, step tokens, experts and latest checkpoint) when `run` is given, else the base
 * `model` with the step tokens added (untrained rows: staged modes still produce well-formed chains through
 * constrained decoding, but the content is the base model's). The caller disposes `model`.
 */
export async function loadForInference(source: InferenceSource): Promise<InferenceModel> {
  const finite = { allowNonFinite: source.allowNonFinite, onWarning: source.onWarning };
  if (source.run) {
    const run = await loadRun(source.run, {}, finite);
    const { model, tokenizer, name, description } = run;
    return { model, tokenizer, name, experts: run.config.experts, run, description };
  }
  const { model, tokenizer } = await loadBase(
    { model: source.model, tokenizer: source.tokenizer },
    { maxSeqLen: source.maxSeqLen, ...finite },
  );
  return {
    model,
    tokenizer,
    name: basename(source.model).replace(/\.bin$/, ''),
    experts: null,
    run: null,
    description: `model: ${source.model} (no experts; step tokens added, untrained)`,
  };
}
