// The types of generation, alone so that the drivers (generate.ts, staged.ts, staged-batch.ts), the per-sequence
// state machines (plain-sequence.ts, staged-sequence.ts) and the decoders (decoder.ts, host/) share them without
// importing one another. Types only: nothing here exists at run time.

import type { StageSet, StepTokenIdMap } from '../aligncot/stages.js';
import type { LinearContext } from '../model/linear.js';
import type { ExpertName, Stage } from '../steps.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import type { SamplingConfig } from './sampler.js';

export interface Decoder {
  /** Number of positions consumed so far. */
  readonly position: number;
  /** Feeds `ids` (one row per sequence, equal lengths) and returns each row's next-token logits. */
  step(ids: readonly (readonly number[])[]): Float32Array[];
  /** The same, reading the logits asynchronously: what generation uses (webgpu cannot read synchronously). */
  next(ids: readonly (readonly number[])[]): Promise<Float32Array[]>;
  /** Changes the routing context (e.g. the active step expert) for the following tokens. */
  setContext(ctx: LinearContext | undefined, key?: string): void;
  dispose(): void;
}

export interface GenerateConfig extends SamplingConfig {
  /** Most new tokens to generate. Default 256. */
  maxTokens: number;
  /**
   * Stop when the model emits BOS, EOS, one of the model's EOS ids, or an end-of-turn token of the tokenizer's chat
   * template (`<|im_end|>`, `<|eot_id|>`; run.c stops on BOS). Default true.
   */
  stopAtEos: boolean;
  /** Stop as soon as the text contains one of these strings (not included in the output). Default none. */
  stop: readonly string[];
  /** Decoding engine: 'host' (single sequence on host arrays), 'tensor' (tfjs graph), 'auto'. Default 'auto'. */
  decoder: 'auto' | 'host' | 'tensor';
}

/** One streamed token. */
export interface TokenEvent {
  id: number;
  /** Text this token completes (may be empty inside a multi-byte character or a possible stop string). */
  text: string;
}

export type StopReason = 'max-tokens' | 'eos' | 'stop-string' | 'context';

export interface GenerateResult {
  text: string;
  ids: number[];
  promptIds: number[];
  stopReason: StopReason;
}

/** Which stages to write: the model's own choice ('adaptive'), or a forced list. */
export type StageMode = 'adaptive' | 'answer' | 'analysis-answer' | 'full' | readonly Stage[];

/** Options of staged generation; the defaults are DEFAULT_STAGED_CONFIG (staged.ts), resolveStagedConfig checks them. */
export interface StagedConfig extends SamplingConfig {
  /** Default 'adaptive'. 'full' = every reasoning stage of `stages` then the answer. */
  mode: StageMode;
  /** The chain's stages (3-stage by default; the tokenizer must have their step tokens). */
  stages: StageSet;
  /** Most generated tokens in all (step tokens included). Default 512. */
  maxTokens: number;
  /** Most content tokens in one block (a number for all stages, or per stage). Default 160. */
  maxTokensPerStage: number | Partial<Record<Stage, number>>;
  /** Expert of the question tokens at inference [open]: a step expert's name or 'shared'. Default 'shared'. */
  questionExpert: ExpertName;
  /**
   * Decoding engine. Default 'auto': the faster of host and tensor, measured on the model's shape and backend the
   * first time (choose.ts); the host decoder needs merged weights.
   */
  decoder: 'auto' | 'host' | 'tensor';
  /** Decode on per-step merged weights (one matmul per projection); false mixes experts per token. Default true. */
  merged: boolean;
}

/** What staged generation streams: stage boundaries, tokens, and the result at the end. */
export type StagedEvent =
  | { type: 'stage-start'; stage: Stage }
  | { type: 'token'; stage: Stage; id: number; text: string; expert: ExpertName | null }
  | {
      type: 'stage-end';
      stage: Stage;
      text: string;
      tokens: number;
      ms: number;
      closedBy: 'model' | 'budget' | 'eos' | 'max-tokens';
    }
  | { type: 'done'; result: StagedResult };

/** A finished staged generation. */
export interface StagedResult {
  /** Text of each written stage (content only, without step tokens). */
  stages: Partial<Record<Stage, string>>;
  /** Stages in the order written. */
  order: Stage[];
  /** Content tokens per stage. */
  tokensPerStage: Partial<Record<Stage, number>>;
  /** Every generated token, step tokens included. */
  totalTokens: number;
  /** The full generated text with step tokens (parseChainText reads it back). */
  text: string;
  stopReason: 'answer-closed' | 'max-tokens' | 'context';
  ms: number;
}

/** What every sequence of one call shares: the resolved rules (`stagedPlan` in staged.ts builds it). */
export interface StagedPlan {
  readonly tokenizer: Tokenizer;
  /** The stages a chain may write, in chain order ('check' excluded). */
  readonly names: readonly Stage[];
  /** The stages a forced mode writes, or null (adaptive). */
  readonly forced: readonly Stage[] | null;
  readonly steps: StepTokenIdMap;
  /** Every step start and end id. */
  readonly stepIds: ReadonlySet<number>;
  /** The ids that end the assistant's turn (the chat template's end-of-turn tokens, EOS, the model's EOS ids). */
  readonly stopIds: ReadonlySet<number>;
  /** Most generated tokens in all. */
  readonly maxTokens: number;
  /** The model's context. */
  readonly maxSeqLen: number;
  /** Most content tokens of a stage's block. */
  budget(stage: Stage): number;
  /** The expert a stage's token events name (null when the model has no step experts). */
  expertOf(stage: Stage): ExpertName | null;
}

/** The next token to feed, and the stage (or 'shared') whose expert routes it. */
export interface StagedFeed {
  id: number;
  expert: ExpertName;
}
