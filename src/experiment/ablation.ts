// The architecture ablation of the paper's Table 4 (method.md §3) at small scale: every variant is trained from
// the same base state (the base reloaded, step tokens added), on the same chains, in the same order, with the same
// seed, then evaluated on the same held-out chains (loss per step type) and held-out prompts (adaptive staged
// generation, greedy). Pure orchestration: it prints nothing; progress goes through `onEvent`; the figures come
// back as one AblationResult (written by ablation-report.ts).
import { basename } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { EncodedChain } from '../aligncot/encode.js';
import { encodeChains } from '../aligncot/encode.js';
import { collectRun } from '../eval/collect.js';
import { modelEvalGenerator } from '../eval/model-generator.js';
import { loadEvalPrompts } from '../eval/prompts-node.js';
import { answerText, type EvalRun } from '../eval/record.js';
import { buildReport } from '../eval/report.js';
import type { EvalReport } from '../eval/types.js';
import { attachExperts } from '../experts/attach.js';
import type { StagedConfig } from '../generate/types.js';
import { type BaseSource, loadBase } from '../run/base.js';
import { resolveTrainConfig, type TrainConfig } from '../train/config.js';
import { evaluate } from '../train/evaluate.js';
import type { TrainEvent } from '../train/trainer.js';
import { train } from '../train/trainer-node.js';
import { withCleanup } from '../util/cleanup.js';
import { check } from '../util/errors.js';
import {
  ABLATION_SCHEMA,
  ABLATION_VERSION,
  type AblationResult,
  type AblationRow,
  type AblationSettings,
  toRow,
} from './ablation-result.js';
import { balancedPrompts, loadChainSplit, promptsThatFit } from './setup.js';
import { type AblationVariant, answerOnly, MOTE_STEP_SKIP_PROB, selectVariants } from './variants.js';

/** Training settings shared by every variant (the demo's, with micro-batches of 4). */
export const ABLATION_TRAIN_DEFAULTS = Object.freeze({
  epochs: 1,
  learningRate: 1e-2,
  batchSize: 8,
  microBatchSize: 4,
  warmupSteps: 4,
  evalEvery: 0,
  saveEvery: 0,
} satisfies Partial<TrainConfig>);

/** The base every variant starts from (`model`, `tokenizer`), the data, and the run settings. */
export interface AblationOptions extends BaseSource {
  /** AlignCoT chains (JSONL); a seeded tenth is held out (setup.ts `loadChainSplit`). */
  chains: string;
  /** Held-out eval prompts (JSONL or CSV, see eval/prompts.ts). */
  evalPrompts: string;
  /** Variant names (variants.ts), in table order. Default: all eight. */
  variants?: readonly string[];
  /** Seed of every random choice (adapter init, data order, step skipping, question-token expert). Default 0. */
  seed?: number | string;
  /** Training overrides (epochs, learningRate, batchSize, microBatchSize, warmupSteps); defaults above. */
  train?: Partial<
    Pick<TrainConfig, 'epochs' | 'learningRate' | 'batchSize' | 'microBatchSize' | 'warmupSteps'>
  >;
  /** Train on the first n training chains only. Default: all. */
  limitChains?: number;
  /** Evaluate on the first n held-out chains only. Default: all. */
  limitHeldOut?: number;
  /** Stop each variant after this many optimizer steps (smoke runs; the schedule still spans the full run). */
  maxSteps?: number;
  /** Eval prompts per class: the first n harmful and the first n benign that fit the context. Default 12. */
  promptsPerClass?: number;
  /** Content tokens per generated stage. Default 64. */
  maxTokensPerStage?: number;
  /** The command line to record in the result (the CLI passes its own). */
  command?: string;
  signal?: AbortSignal;
  onEvent?: (event: AblationEvent) => void;
}

/** Progress of `runAblation`. */
export type AblationEvent =
  | {
      type: 'data';
      trainChains: number;
      heldOutChains: number;
      dropped: number;
      harmful: number;
      benign: number;
    }
  | { type: 'variant-start'; variant: AblationVariant; index: number; total: number }
  | { type: 'train'; variant: string; event: TrainEvent }
  | { type: 'evaluate'; variant: string; phase: 'held-out' | 'generate'; done: number; total: number }
  | { type: 'variant-done'; row: AblationRow };

/** What `runAblation` returns: the table (JSON-ready) and each variant's eval report. */
export interface AblationRun {
  result: AblationResult;
  reports: { variant: string; report: EvalReport; run: EvalRun }[];
}

/**
 * Trains and evaluates each variant in turn (see the file header) and returns the table. The base model is
 * loaded afresh for every variant and disposed after it. Throws on bad options (naming the option), when the
 * data leaves nothing to train or evaluate on, and when `signal` aborts.
 */
export async function runAblation(options: AblationOptions): Promise<AblationRun> {
  const variants = selectVariants(options.variants);
  const seed = options.seed ?? 0;
  const trainConfig = resolveTrainConfig({ ...ABLATION_TRAIN_DEFAULTS, ...options.train, seed });
  const perClass = options.promptsPerClass ?? 12;
  checkCount('limitChains', options.limitChains, 1);
  checkCount('limitHeldOut', options.limitHeldOut, 1);
  checkCount('maxSteps', options.maxSteps, 1);
  checkCount('promptsPerClass', perClass, 0);
  checkCount('maxTokensPerStage', options.maxTokensPerStage, 1);
  const emit = options.onEvent ?? (() => {});
  const data = await prepareData(options, perClass);
  emit({
    type: 'data',
    trainChains: data.train.length,
    heldOutChains: data.heldOut.length,
    dropped: data.dropped,
    harmful: data.prompts.filter((p) => p.harmful).length,
    benign: data.prompts.filter((p) => !p.harmful).length,
  });
  const generation: Partial<StagedConfig> = {
    mode: 'adaptive',
    temperature: 0,
    maxTokensPerStage: options.maxTokensPerStage ?? 64,
  };
  const settings: AblationSettings = {
    command: options.command ?? null,
    seed,
    train: {
      epochs: trainConfig.epochs,
      learningRate: trainConfig.learningRate,
      batchSize: trainConfig.batchSize,
      microBatchSize: trainConfig.microBatchSize,
      warmupSteps: trainConfig.warmupSteps,
      schedule: trainConfig.schedule,
      maxSteps: options.maxSteps ?? null,
    },
    moteStepSkipProb: MOTE_STEP_SKIP_PROB,
    data: {
      chains: basename(options.chains),
      trainChains: data.train.length,
      heldOutChains: data.heldOut.length,
      droppedAsTooLong: data.dropped,
      evalPrompts: basename(options.evalPrompts),
      harmfulPrompts: data.prompts.filter((p) => p.harmful).length,
      benignPrompts: data.prompts.filter((p) => !p.harmful).length,
    },
    generation: {
      mode: 'adaptive',
      temperature: 0,
      maxTokensPerStage: generation.maxTokensPerStage as number,
    },
    model: basename(options.model),
    backend: tf.getBackend(),
  };

  const rows: AblationRow[] = [];
  const reports: AblationRun['reports'] = [];
  for (const [index, variant] of variants.entries()) {
    options.signal?.throwIfAborted();
    emit({ type: 'variant-start', variant, index, total: variants.length });
    const { row, report, run } = await runVariant(variant, data, trainConfig, generation, options, emit);
    rows.push(row);
    reports.push({ variant: variant.name, report, run });
    emit({ type: 'variant-done', row });
  }
  return { result: { schema: ABLATION_SCHEMA, version: ABLATION_VERSION, settings, rows }, reports };
}

// ---------------------------------------------------------------------------------------------------
// helpers

interface AblationData {
  train: EncodedChain[];
  /** The same training chains without their reasoning (plain SFT). */
  trainAnswers: EncodedChain[];
  heldOut: EncodedChain[];
  /** The held-out chains without their reasoning: the loss of answering the question directly. */
  heldOutAnswers: EncodedChain[];
  dropped: number;
  prompts: Awaited<ReturnType<typeof loadEvalPrompts>>;
}

/** Loads the chains and prompts once (with a throwaway base for the tokenizer and context). */
async function prepareData(options: AblationOptions, perClass: number): Promise<AblationData> {
  const { model, tokenizer } = await loadBase(options);
  return withCleanup(
    async () => {
      const context = model.config.maxSeqLen;
      // 'drop': the setup the figures of docs/ablation.md were measured with (a chain and its answer-only version
      // are compared whole)
      const split = await loadChainSplit(options.chains, tokenizer, context, options.seed ?? 0, 'drop');
      const train = split.train.slice(0, options.limitChains);
      const heldOut = split.heldOut.slice(0, options.limitHeldOut);
      if (train.length === 0)
        throw new Error(`${options.chains}: no training chains fit in ${context} tokens`);
      if (heldOut.length === 0)
        throw new Error(`${options.chains}: no held-out chains (every 10th chain is held out)`);
      const answers = (set: EncodedChain[]) =>
        encodeChains(
          set.map((e) => answerOnly(split.byId.get(e.id)!)),
          tokenizer,
          { maxLen: context, onOverflow: 'drop' },
        ).encoded;
      const prompts = balancedPrompts(
        promptsThatFit(await loadEvalPrompts(options.evalPrompts), tokenizer, context),
        perClass,
      );
      if (prompts.length === 0)
        throw new Error(
          `${options.evalPrompts}: no eval prompt fits in half of the ${context}-token context`,
        );
      return {
        train,
        trainAnswers: answers(train),
        heldOut,
        heldOutAnswers: answers(heldOut),
        dropped: split.report.dropped.length,
        prompts,
      };
    },
    () => model.dispose(),
  );
}

/** One variant: fresh base, experts, training, held-out losses, generation on the prompts. */
async function runVariant(
  variant: AblationVariant,
  data: AblationData,
  trainConfig: Readonly<TrainConfig>,
  generation: Partial<StagedConfig>,
  options: AblationOptions,
  emit: (e: AblationEvent) => void,
): Promise<{ row: AblationRow; report: EvalReport; run: EvalRun }> {
  const { model, tokenizer } = await loadBase(options);
  return withCleanup(
    async () => {
      const experts = attachExperts(model, { seed: trainConfig.seed }, variant.preset);
      const trainSet = variant.data === 'answers' ? data.trainAnswers : data.train;
      let trainableParameters = 0;
      const t0 = performance.now();
      const trained = await train(
        model,
        { train: trainSet },
        { ...trainConfig, stepSkipProb: variant.stepSkipProb },
        {
          maxSteps: options.maxSteps,
          signal: options.signal,
          onEvent: (event) => {
            if (event.type === 'start') trainableParameters = event.trainableParameters;
            emit({ type: 'train', variant: variant.name, event });
          },
        },
      );
      const trainMs = performance.now() - t0;
      if (trained.stopped) options.signal?.throwIfAborted();

      const t1 = performance.now();
      const lossOptions = { batchSize: 8, seqLen: model.config.maxSeqLen };
      emit({ type: 'evaluate', variant: variant.name, phase: 'held-out', done: 0, total: 2 });
      const heldOut = await evaluate(model, data.heldOut, lossOptions);
      emit({ type: 'evaluate', variant: variant.name, phase: 'held-out', done: 1, total: 2 });
      const heldOutAnswers = await evaluate(model, data.heldOutAnswers, lossOptions);
      emit({ type: 'evaluate', variant: variant.name, phase: 'held-out', done: 2, total: 2 });
      const run = await collectRun(
        data.prompts,
        modelEvalGenerator(model, tokenizer, variant.name, generation),
        {
          signal: options.signal,
          onRecord: (r) =>
            emit({
              type: 'evaluate',
              variant: variant.name,
              phase: 'generate',
              done: r.done,
              total: r.total,
            }),
        },
      );
      const report = buildReport([{ run }], { title: `mote experiment ablation: ${variant.label}` });
      const row = toRow(variant, {
        experts: experts.config,
        adapterParameters: experts.parameterCount,
        trainableParameters,
        trainChains: trainSet.length,
        steps: trained.position.step,
        finalTrainLoss: trained.loss,
        heldOut,
        answerOnlyLoss: heldOutAnswers.loss,
        report: report.runs[0],
        distinctAnswers: new Set(run.records.map((r) => answerText(r.output).trim())).size,
        trainMs,
        evalMs: performance.now() - t1,
      });
      return { row, report, run };
    },
    () => model.dispose(),
  );
}

/** Checks an optional integer option ≥ min. */
function checkCount(key: string, value: number | undefined, min: number): void {
  if (value !== undefined) check(Number.isInteger(value) && value >= min, key, value, `an integer ≥ ${min}`);
}
