// Batched staged generation with continuous batching: many prompts decoded together, ONE batched forward per token,
// each sequence in its own row with its own active step expert; when a sequence ends, the next prompt starts in its
// row at once (batch/continuous.ts) instead of the batch waiting for its longest answer. Rows in different stages are
// mixed in that one forward: on the host decoder each stage's rows go through its merged weights in one matmul per
// projection; on the tfjs graph with `merged` (the default) through MoteLinear.mergedPerToken, with `merged: false`
// the unmerged experts are mixed per row (segmented kernel, experts/kernels/).
// Every row runs the same StagedSequence as generateStaged, with its own sampler seeded alike, and its prompt is fed
// alone into its row, so a row writes what its prompt alone would: exactly on the host decoder (the same kernels,
// row by row), up to float rounding on the tfjs graph (batch/tensor-rows.ts: right-aligned rows, padding masked,
// RoPE at each row's own position). Results come back in input order; events stream as they happen.
import type { Turn } from '../aligncot/chain.js';
import type { Transformer } from '../model/transformer.js';
import type { ExpertName } from '../steps.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { check } from '../util/errors.js';
import { type BatchJob, ContinuousBatch } from './batch/continuous.js';
import { rowDecoderFor } from './choose.js';
import { createSampler } from './sampler.js';
import { resolveStagedConfig, stagedPlan, stagedPrompt } from './staged.js';
import { StagedSequence } from './staged-sequence.js';
import type { StagedConfig, StagedEvent, StagedPlan, StagedResult } from './types.js';

export interface StagedBatchConfig extends StagedConfig {
  /** Most sequences decoded together. Default 8. */
  batchSize: number;
}

export const DEFAULT_STAGED_BATCH_SIZE = 8;

/** Merges the batch size into the staged defaults and validates. */
export function resolveStagedBatchConfig(
  partial: Partial<StagedBatchConfig> = {},
): Readonly<StagedBatchConfig> {
  const { batchSize = DEFAULT_STAGED_BATCH_SIZE, ...rest } = partial;
  check(Number.isInteger(batchSize) && batchSize > 0, 'batchSize', batchSize, 'a positive integer');
  const c = resolveStagedConfig(rest);
  return Object.freeze({ ...c, batchSize });
}

/** Receives each prompt's events as they happen: `index` is the prompt's place in the input. */
export type StagedBatchEventHandler = (index: number, event: StagedEvent) => void;

/**
 * A continuous batch of staged generations that callers share: every `generate` joins the running batch (a free
 * row, or the next one to free), so concurrent callers (an evaluation's prompts, a pipeline's workers) are decoded
 * together. Make one with `StagedBatcher.create`.
 */
export class StagedBatcher {
  private constructor(
    private readonly model: Transformer,
    private readonly tokenizer: Tokenizer,
    private readonly config: Readonly<StagedBatchConfig>,
    private readonly plan: StagedPlan,
    private readonly batch: ContinuousBatch,
    /** The row decoder in use. */
    readonly decoder: 'host' | 'tensor',
  ) {}

  /**
   * Resolves the config, checks the stages' experts, and picks the row decoder: 'auto' takes the faster of the host
   * and tensor decoders at this batch size, measured on the model the first time (choose.ts).
   */
  static async create(
    model: Transformer,
    tokenizer: Tokenizer,
    config: Partial<StagedBatchConfig> = {},
    caller = 'generateStagedBatch',
  ): Promise<StagedBatcher> {
    const c = resolveStagedBatchConfig(config);
    const plan = stagedPlan(model, tokenizer, c, caller);
    const { kind, open } = await rowDecoderFor(model, c.decoder, { ...c, expert: c.questionExpert, caller });
    return new StagedBatcher(model, tokenizer, c, plan, new ContinuousBatch(open, c.batchSize), kind);
  }

  /** Forwards run so far (prefills and batched steps). */
  get steps(): number {
    return this.batch.steps;
  }

  /** The staged answer to `question`, decoded in the shared batch; `onEvent` streams its events ('done' last). */
  async generate(
    question: string | readonly Turn[],
    onEvent?: (event: StagedEvent) => void,
    caller = 'generateStagedBatch',
  ): Promise<StagedResult> {
    const prompt = stagedPrompt(this.model, this.tokenizer, question, caller);
    const seq = new StagedSequence(this.plan, createSampler(this.config));
    await this.batch.submit(stagedJob(seq, prompt, this.config.questionExpert, onEvent));
    return seq.result;
  }
}

/** A StagedSequence as a job of the continuous batch, handing out its events after each decision. */
function stagedJob(
  seq: StagedSequence,
  prompt: readonly number[],
  expert: ExpertName,
  onEvent?: (event: StagedEvent) => void,
): BatchJob {
  return {
    prompt,
    expert,
    advance(logits, position) {
      const feed = seq.advance(logits, position);
      for (const e of seq.takeEvents()) onEvent?.(e);
      return feed;
    },
  };
}

/**
 * Staged answers to every question, decoded `batchSize` at a time (continuous batching: a finished row takes the
 * next question at once). Returns one StagedResult per question, in input order (each as generateStaged would return
 * it alone); `onEvent` streams every prompt's events (its 'done' last). Every question is checked against the
 * model's context before anything is decoded.
 */
export async function generateStagedBatch(
  model: Transformer,
  tokenizer: Tokenizer,
  questions: readonly (string | readonly Turn[])[],
  config: Partial<StagedBatchConfig> = {},
  onEvent?: StagedBatchEventHandler,
): Promise<StagedResult[]> {
  if (!Array.isArray(questions) || questions.length === 0)
    throw new Error('generateStagedBatch: expected a non-empty list of questions');
  const batcher = await StagedBatcher.create(model, tokenizer, config);
  for (const q of questions) stagedPrompt(model, tokenizer, q, 'generateStagedBatch');
  const settled = await Promise.allSettled(
    questions.map((q, i) => batcher.generate(q, onEvent && ((e) => onEvent(i, e)))),
  );
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
  return settled.map((s) => (s as PromiseFulfilledResult<StagedResult>).value);
}
