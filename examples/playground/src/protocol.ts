// The messages between the page (main.ts) and the model worker (worker.ts). Every request carries an id; the
// worker answers it with one 'result' or one 'error', and may send events tagged with the same id before that.
import type { BackendChoice, EvalResult, LossByStage, StagedEvent, StageMode } from 'mote-tfjs';

/** A model to load: the bundled one, a dropped llama2.c checkpoint with its tokenizer, or a dropped HF directory. */
export type ModelInput =
  | { kind: 'bundled' }
  | { kind: 'llama2c'; model: File; tokenizer: File }
  | { kind: 'hf'; files: [name: string, file: File][]; label: string };

/** Chains to train on: the bundled sample, or a dropped JSONL file. */
export type ChainsInput = { kind: 'bundled' } | { kind: 'file'; file: File };

export interface TrainParams {
  /** Optimizer steps to take in this call. */
  steps: number;
  learningRate: number;
  batchSize: number;
  /** Continue the previous run (its optimizer moments and data position). */
  resume: boolean;
}

export interface AskParams {
  question: string;
  mode: Extract<StageMode, string>;
  /** Answer with the experts as they were before training. */
  untrained: boolean;
  maxTokensPerStage: number;
}

export interface BenchParams {
  /** Timed training steps (after one untimed). */
  steps: number;
  /** Decoded tokens per timing. */
  tokens: number;
  /** Rows and tokens per row of a training step. */
  batch: number;
  seqLen: number;
}

/** Requests the page sends. */
export type Request =
  | { type: 'init'; backend: 'auto' | 'cpu'; wasmThreads: number; cores: number }
  | { type: 'load'; model: ModelInput; chains: ChainsInput }
  | { type: 'train'; params: TrainParams }
  | { type: 'stop' }
  | { type: 'ask'; params: AskParams }
  | { type: 'export' }
  | { type: 'probe'; question: string }
  | { type: 'bench'; params: BenchParams };

/** What a loaded model and its data are. */
export interface LoadSummary {
  model: string;
  parameters: number;
  trainableParameters: number;
  vocabSize: number;
  maxSeqLen: number;
  chains: number;
  /** Chains trained on, and held out (evaluated as training goes). */
  encoded: number;
  heldOut: number;
  dropped: number;
  chainErrors: string[];
  /** The memory estimate of training, and the page's budget, in MB. */
  memoryMB: number;
  budgetMB: number;
}

export interface BenchResult {
  backend: string;
  threads: number;
  trainTokensPerSec: number;
  trainMsPerStep: number;
  decodeTokensPerSec: number;
}

/** Events the worker sends while a request runs. */
export type WorkerEvent =
  | {
      type: 'step';
      step: number;
      totalSteps: number;
      loss: number;
      byStage: LossByStage;
      tokensPerSec: number;
      ms: number;
    }
  | { type: 'eval'; step: number; result: EvalResult }
  | { type: 'staged'; event: Exclude<StagedEvent, { type: 'done' }> }
  | { type: 'warning'; message: string };

/** Results, by request type. */
export interface Results {
  init: BackendChoice & { warnings: string[] };
  load: LoadSummary;
  train: { step: number; stopped: boolean; loss: number };
  stop: { stopping: boolean };
  ask: { text: string; order: string[]; ms: number; totalTokens: number };
  export: { zip: Uint8Array; files: string[] };
  probe: { ids: number[]; logits: number[] };
  bench: BenchResult;
}

/** Worker → page. */
export type Reply =
  | { id: number; kind: 'event'; event: WorkerEvent }
  | { id: number; kind: 'result'; result: unknown }
  | { id: number; kind: 'error'; message: string };
