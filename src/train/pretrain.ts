// Pretraining a small base from scratch, for users who have no base model: a byte-level BPE
// tokenizer trained on the corpus (tokenizer/bpe-trainer.ts), the corpus cut into windows (text-data.ts), and a
// freshly initialised Transformer trained on them by the same loop as fine-tuning (`train`, base trainable).
// nanoGPT's prepare.py + train.py in one call; it prints nothing: progress comes as events.
import { MODEL_PRESETS, type ModelConfig, type ModelPreset, resolveModelConfig } from '../model/config.js';
import { Transformer } from '../model/transformer.js';
import { type BpeTrainProgress, trainBpe } from '../tokenizer/bpe-trainer.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { cleanupAfterFailure } from '../util/cleanup.js';
import { ConfigError, check } from '../util/errors.js';
import { resolveTrainConfig, type TrainConfig } from './config.js';
import { type EvalResult, evaluate } from './evaluate.js';
import type { TrainData } from './example.js';
import { lmWindows, splitDocuments } from './text-data.js';
import type { Checkpointer, TrainEvent, TrainOptions, TrainResult } from './trainer.js';
import { train } from './trainer-node.js';

// ---------------------------------------------------------------------------------------------------
// configuration

/** How the BPE tokenizer is trained (trainBpe). */
export interface TokenizerTrainConfig {
  /** Target ids: 3 specials (<pad>, <s>, </s>) + 256 bytes + merges; ≥ 259. Default: the model's vocabSize. */
  vocabSize: number;
  /** Least count of a pair to merge. Default 2. */
  minFrequency: number;
}

/** Everything that decides a pretraining run (saved with it; a resumed run must keep it). */
export interface PretrainConfig {
  tokenizer: TokenizerTrainConfig;
  /** A preset the model shape starts from; null: PRETRAIN_MODEL. */
  preset: ModelPreset | null;
  /** The model shape; `vocabSize` is the tokenizer's target (the model gets the trained tokenizer's real size). */
  model: ModelConfig;
  train: TrainConfig;
  /** Tokens per training window (≤ model.maxSeqLen). Default: model.maxSeqLen. */
  seqLen: number;
  /** Share of the documents held out for the evaluation loss; in [0, 1). Default 0.05. */
  evalFraction: number;
  /** Seed of the split, the initial weights and (unless train.seed is given) the data order. Default 0. */
  seed: number | string;
}

/** A partial PretrainConfig, as a caller or the command line gives it. */
export interface PretrainConfigInput {
  tokenizer?: Partial<TokenizerTrainConfig>;
  model?: Partial<ModelConfig> & { preset?: ModelPreset | null };
  train?: Partial<TrainConfig>;
  seqLen?: number;
  evalFraction?: number;
  seed?: number | string;
}

/**
 * The default shape: a few-minute CPU run on the HH-RLHF text (~1.5 MB). d = 64, 4 layers, 4 heads (head size
 * 16) with 2 key/value heads, a 2048-id vocabulary (~3.3 bytes per token on HH-RLHF), 256-token windows:
 * 0.33 M parameters, 0.13 M of them the tied embedding.
 */
export const PRETRAIN_MODEL: Readonly<ModelConfig> = Object.freeze({
  ...MODEL_PRESETS.stories260K,
  dim: 64,
  hiddenDim: 172,
  numLayers: 4,
  numHeads: 4,
  numKvHeads: 2,
  vocabSize: 2048,
  maxSeqLen: 256,
});

/**
 * Training defaults for a model trained from scratch (nanoGPT's small-model settings), over resolveTrainConfig's
 * fine-tuning ones: one epoch, peak lr 2e-3 after 20 warm-up steps, cosine to 10%, β2 0.95, weight decay 0.1.
 */
export const PRETRAIN_TRAIN: Readonly<Partial<TrainConfig>> = Object.freeze({
  epochs: 1,
  learningRate: 2e-3,
  batchSize: 16,
  warmupSteps: 20,
  betas: [0.9, 0.95] as [number, number],
  weightDecay: 0.1,
  evalEvery: 50,
  saveEvery: 100,
});

/**
 * Merges `input` over the defaults and validates it; errors name the key (ConfigError). The tokenizer's
 * vocabSize and the model's are one number: give either (both: they must agree).
 */
export function resolvePretrainConfig(input: PretrainConfigInput = {}): Readonly<PretrainConfig> {
  const { preset = null, ...modelPartial } = input.model ?? {};
  const vocab = input.tokenizer?.vocabSize;
  if (vocab !== undefined && modelPartial.vocabSize !== undefined && vocab !== modelPartial.vocabSize)
    throw new ConfigError(
      'tokenizer.vocabSize',
      vocab,
      `the model's vocabSize (${modelPartial.vocabSize}), or leave one of them out`,
    );
  const base = preset === null ? PRETRAIN_MODEL : undefined;
  const seqLen = input.seqLen ?? modelPartial.maxSeqLen;
  const model = resolveModelConfig(
    {
      ...base,
      ...modelPartial,
      ...(vocab !== undefined ? { vocabSize: vocab } : {}),
      ...(modelPartial.maxSeqLen === undefined && seqLen !== undefined ? { maxSeqLen: seqLen } : {}),
    },
    preset ?? undefined,
  );
  const c: PretrainConfig = {
    tokenizer: { vocabSize: model.vocabSize, minFrequency: input.tokenizer?.minFrequency ?? 2 },
    preset,
    model: { ...model },
    train: { ...resolveTrainConfig({ ...PRETRAIN_TRAIN, seed: input.seed ?? 0, ...input.train }) },
    seqLen: seqLen ?? model.maxSeqLen,
    evalFraction: input.evalFraction ?? 0.05,
    seed: input.seed ?? 0,
  };
  check(
    Number.isInteger(c.seqLen) && c.seqLen >= 1 && c.seqLen <= model.maxSeqLen,
    'seqLen',
    c.seqLen,
    `an integer in [1, ${model.maxSeqLen}] (the model's maxSeqLen)`,
  );
  check(
    Number.isInteger(c.tokenizer.minFrequency) && c.tokenizer.minFrequency >= 1,
    'tokenizer.minFrequency',
    c.tokenizer.minFrequency,
    'an integer ≥ 1',
  );
  check(
    typeof c.evalFraction === 'number' && c.evalFraction >= 0 && c.evalFraction < 1,
    'evalFraction',
    c.evalFraction,
    'a number in [0, 1)',
  );
  return Object.freeze(c);
}

// ---------------------------------------------------------------------------------------------------
// corpus → tokenizer and windows

/** What the corpus became. */
export interface CorpusStats {
  documents: { train: number; eval: number };
  tokens: { train: number; eval: number };
  windows: { train: number; eval: number };
  /** UTF-8 bytes of the training documents per training token (BOS/EOS included). */
  bytesPerToken: number;
  /** Ids of the tokenizer (what the model's vocabulary will be). */
  vocabSize: number;
}

export type PretrainEvent =
  | { type: 'tokenizer'; progress: BpeTrainProgress }
  | { type: 'corpus'; stats: CorpusStats }
  | TrainEvent;

/** The tokenizer and the windows of a corpus, ready for `pretrainModel`. */
export interface PreparedCorpus {
  tokenizer: Tokenizer;
  data: TrainData;
  stats: CorpusStats;
}

/**
 * Splits the documents (seeded, by document), trains the BPE tokenizer on the training documents (unless one is
 * given, e.g. the saved one when resuming), encodes every document with BOS and EOS and cuts the windows.
 */
export async function prepareCorpus(
  texts: readonly string[],
  config: Readonly<PretrainConfig>,
  options: { tokenizer?: Tokenizer; onEvent?: (e: PretrainEvent) => void } = {},
): Promise<PreparedCorpus> {
  const docs = texts.filter((t) => t.trim() !== '');
  if (docs.length === 0) throw new Error('pretrain: the corpus is empty (no document has text)');
  const split = splitDocuments(docs.length, config.evalFraction, `${config.seed}/eval-split`);
  const trainDocs = split.train.map((i) => docs[i]);
  const tokenizer =
    options.tokenizer ??
    (await trainBpe(trainDocs, {
      vocabSize: config.tokenizer.vocabSize,
      minFrequency: config.tokenizer.minFrequency,
      onProgress: (progress) => options.onEvent?.({ type: 'tokenizer', progress }),
    }));
  const encode = (indices: number[]) =>
    indices.map((i) => tokenizer.encode(docs[i], { bos: true, eos: true }));
  const trainIds = encode(split.train);
  const evalIds = encode(split.eval);
  const data: TrainData = { train: lmWindows(trainIds, config.seqLen, 'train') };
  const evalWindows = lmWindows(evalIds, config.seqLen, 'eval');
  if (evalWindows.length > 0) data.eval = evalWindows;
  const count = (ids: number[][]) => ids.reduce((n, d) => n + d.length, 0);
  const bytes = trainDocs.reduce((n, d) => n + Buffer.byteLength(d), 0);
  const stats: CorpusStats = {
    documents: { train: split.train.length, eval: split.eval.length },
    tokens: { train: count(trainIds), eval: count(evalIds) },
    windows: { train: data.train.length, eval: evalWindows.length },
    bytesPerToken: bytes / Math.max(1, count(trainIds)),
    vocabSize: tokenizer.vocabSize,
  };
  if (data.train.length === 0)
    throw new Error(
      `pretrain: the training documents give ${stats.tokens.train} tokens, too few for one window`,
    );
  options.onEvent?.({ type: 'corpus', stats });
  return { tokenizer, data, stats };
}

// ---------------------------------------------------------------------------------------------------
// the run

/** Run controls of `pretrain` / `pretrainModel` (the trainer's, with a checkpointer made for the new model). */
export interface PretrainRunOptions extends Pick<TrainOptions, 'maxSteps' | 'resume' | 'signal'> {
  /** Makes the checkpointer of the freshly built model (e.g. `(m) => fileCheckpointer(m, { outDir })`). */
  checkpointer?: (model: Transformer) => Checkpointer;
  onEvent?: (event: PretrainEvent) => void;
}

export interface PretrainResult {
  /** The trained model (caller disposes it); its vocabulary is the tokenizer's. */
  model: Transformer;
  tokenizer: Tokenizer;
  result: TrainResult;
  /** Held-out loss of the initial weights (absent when resuming or without held-out documents). */
  initialEval?: EvalResult;
  stats: CorpusStats;
}

/**
 * Initialises a model of `config.model`'s shape with the tokenizer's vocabulary (seeded by `config.seed`) and
 * trains all of it on the windows. The held-out loss of the initial weights is evaluated first (step 0), unless
 * resuming.
 */
export async function pretrainModel(
  prepared: PreparedCorpus,
  config: Readonly<PretrainConfig>,
  options: PretrainRunOptions = {},
): Promise<PretrainResult> {
  const { tokenizer, data, stats } = prepared;
  const model = Transformer.init({ ...config.model, vocabSize: tokenizer.vocabSize }, config.seed, {
    trainable: true,
  });
  try {
    let initialEval: EvalResult | undefined;
    const evalOptions = { batchSize: config.train.microBatchSize, seqLen: config.seqLen };
    if (data.eval && !options.resume) {
      initialEval = await evaluate(model, data.eval, evalOptions);
      options.onEvent?.({ type: 'eval', step: 0, result: initialEval });
    }
    const result = await train(model, data, config.train, {
      seqLen: config.seqLen,
      mode: 'pad',
      maxSteps: options.maxSteps,
      checkpointer: options.checkpointer?.(model),
      resume: options.resume,
      signal: options.signal,
      onEvent: options.onEvent,
    });
    return { model, tokenizer, result, initialEval, stats };
  } catch (e) {
    await cleanupAfterFailure(e, () => model.dispose());
    throw e;
  }
}

/** `pretrain` = resolvePretrainConfig + prepareCorpus + pretrainModel. */
export interface PretrainOptions extends Omit<PretrainConfigInput, 'tokenizer'>, PretrainRunOptions {
  /** How to train the tokenizer, or a tokenizer to use as it is. */
  tokenizer?: Partial<TokenizerTrainConfig> | Tokenizer;
}

/**
 * Trains a BPE tokenizer and a base model from scratch on `texts` (one string per document):
 *
 *   const { model, tokenizer, result } = await pretrain(texts, { model: { dim: 64, numLayers: 4 }, train: { epochs: 1 } });
 */
export async function pretrain(
  texts: readonly string[],
  options: PretrainOptions = {},
): Promise<PretrainResult> {
  const given = isTokenizer(options.tokenizer) ? options.tokenizer : undefined;
  const config = resolvePretrainConfig({
    ...options,
    tokenizer: given ? { vocabSize: given.vocabSize } : (options.tokenizer as Partial<TokenizerTrainConfig>),
  });
  const prepared = await prepareCorpus(texts, config, { tokenizer: given, onEvent: options.onEvent });
  return pretrainModel(prepared, config, options);
}

const isTokenizer = (t: unknown): t is Tokenizer =>
  typeof (t as Tokenizer | undefined)?.encode === 'function';
