// A chain → training arrays: input ids, next-token targets, loss mask, per-token step ids and step spans
// (method.md §1: loss on analysis, guidance and answer and their step tokens, not on the question).
//
// The chain is the assistant's turn of a conversation in the model's chat format (format.ts, tokenizer/chat-format.ts).
// The full token sequence is BOS (unless the template writes it) + encode(render(question turns,
// add_generation_prompt) + step blocks) + the template's end-of-turn token (`<|im_end|>`, `<|eot_id|>`, …; EOS for
// the default template). As in minGPT/nanoGPT, `ids` are its first n = L − 1 tokens and `targets` its last n
// (targets are ids shifted by one), so `ids` fit a context of maxLen when L ≤ maxLen + 1.
//
// - stepIds[i]   the step label of ids[i] (STEP_ID): question for BOS and everything the template renders before
//                the first step token (system prompt, role headers, the generation prompt); a stage for every token
//                of its block, start and end token included.
// - lossMask[i]  1 when targets[i] is a training target: a token of a trained stage (see StageSet). So the
//                last question token predicting the first step token is trained: the model learns to choose
//                the first step itself (it may jump straight to <|response|>, method.md §2).
// - end of turn  follows the last block and counts as part of it: it is trained when that stage is (the answer in
//                the 3-stage set; an untrained check in the 4-stage set leaves it untrained).
// - stepSpans    {stage, start, end} (end exclusive) over `ids`; they tile [0, n) in chain order, question first.
//
// Worked example, with the word-level toy tokenizer of the tests (tests/unit/aligncot/toy-tokenizer.ts:
// <unk>=0, <s>=1, </s>=2, then addStepTokens gives <|analysis|>=3, <|/analysis|>=4, <|guidance|>=5,
// <|/guidance|>=6, <|response|>=7, <|/response|>=8; words get the next ids as they are first seen). It has no chat
// template, so the default one renders the question as "User: …\n" and EOS ends the turn:
//
//   chain { question: 'pick lock?', analysis: 'risky', answer: 'ask locksmith' }   (no guidance)
//   text  "User: pick lock?\n<|analysis|> risky<|/analysis|><|response|> ask locksmith<|/response|>"
//
//   i          0     1     2      3  4            5      6             7            8    9         10            11 (12)
//   token    <s> User: ␣pick ␣lock? \n <|analysis|> ␣risky <|/analysis|> <|response|> ␣ask ␣locksmith <|/response|> </s>
//   ids        1     9    10     11 12            3     13             4            7   14         15             8
//   targets    9    10    11     12  3           13      4             7           14   15          8             2
//   stepIds    0     0     0      0  0            1      1             1            3    3          3             3
//   lossMask   0     0     0      0  1            1      1             1            1    1          1             1
//   stepSpans question [0, 5), analysis [5, 8), answer [8, 12)
//
// With SmolLM2's ChatML template the same chain is (no BOS: SmolLM2's tokenizer adds none)
//   "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n
//    <|im_start|>user\npick lock?<|im_end|>\n<|im_start|>assistant\n<|analysis|> risky<|/analysis|><|response|> ask
//    locksmith<|/response|>" + <|im_end|>
// and the loss covers the targets from <|analysis|> through <|im_end|>: the step blocks and the end of the turn.
//
// Overflow (L > maxLen + 1) never cuts the question or the answer: 'throw' (default) raises a FormatError,
// 'drop' returns null (encodeChains reports it), 'truncate-reasoning' removes content tokens from the end of
// the longest non-answer block, one at a time, and removes a block whole (with its step tokens) once it is
// empty; when even question + answer do not fit, the chain is dropped. 'truncate' does the same and then, when
// question + answer still do not fit, removes tokens from the middle of the question (it carries no loss; its start,
// usually the instruction, and its end stay), dropping the chain only when the answer alone does not fit.
// Truncations are reported.

import type { Stage } from '../steps.js';
import { STEP_ID, STEP_LABELS, type StepLabel } from '../steps.js';
import { chatFormat } from '../tokenizer/chat-format.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import type { TrainExample } from '../train/example.js';
import { check, FormatError } from '../util/errors.js';
import type { Chain } from './chain.js';
import { formatChain } from './format.js';
import { type StageSet, type StepTokenIdMap, stepTokenIds, THREE_STAGE } from './stages.js';

/** A contiguous run of tokens with one step label; `end` is exclusive. */
export interface StepSpan {
  stage: StepLabel;
  start: number;
  end: number;
}

/** What `truncate-reasoning` removed from a chain. */
export interface Truncation {
  /** Length of the full token sequence before truncation (L, including BOS and the end-of-turn token). */
  originalLength: number;
  /** Tokens removed per stage, step tokens of removed blocks included. */
  removedTokens: Partial<Record<Stage, number>>;
  /** Blocks removed whole. */
  removedStages: Stage[];
  /** 'truncate': tokens removed from the middle of the question. */
  questionTokens?: number;
}

/** One chain as a training example, all arrays of length n = L − 1 (see the file header). */
export interface EncodedChain extends TrainExample {
  /** Step id (STEP_ID) of each input token. */
  stepIds: Int32Array;
  stepSpans: StepSpan[];
  /** Present when 'truncate-reasoning' shortened the chain. */
  truncated?: Truncation;
}

export interface EncodeChainOptions {
  /** Longest `ids` allowed (the model context); the full sequence may then have maxLen + 1 tokens. */
  maxLen: number;
  /** The stages to render and their training flags. Default THREE_STAGE. */
  stages?: StageSet;
  /** What to do when a chain is too long (file header). Default 'throw'. */
  onOverflow?: 'drop' | 'truncate-reasoning' | 'truncate' | 'throw';
}

/** What `encodeChains` did with each chain. */
export interface EncodeReport {
  chains: number;
  encoded: number;
  truncated: { id: string; truncation: Truncation }[];
  dropped: { id: string; length: number; reason: string }[];
}

/**
 * Encodes one chain (worked example in the file header) in the tokenizer's chat format (`chatFormat`). The
 * tokenizer must have the step tokens of `stages` (`addStepTokens`). Returns null when the chain is too long and
 * onOverflow is 'drop' (or when 'truncate-reasoning' cannot make it fit).
 */
export function encodeChain(
  chain: Chain,
  tokenizer: Tokenizer,
  options: EncodeChainOptions,
): EncodedChain | null {
  const outcome = encodeOne(
    chain,
    tokenizer,
    resolve(options),
    stepTokenIds(tokenizer, options.stages ?? THREE_STAGE),
  );
  return 'dropped' in outcome ? null : outcome;
}

/** Encodes many chains and reports which were truncated or dropped (and why). */
export function encodeChains(
  chains: readonly Chain[],
  tokenizer: Tokenizer,
  options: EncodeChainOptions,
): { encoded: EncodedChain[]; report: EncodeReport } {
  const resolved = resolve(options);
  const stepIds = stepTokenIds(tokenizer, resolved.stages);
  const encoded: EncodedChain[] = [];
  const report: EncodeReport = { chains: chains.length, encoded: 0, truncated: [], dropped: [] };
  for (const chain of chains) {
    const outcome = encodeOne(chain, tokenizer, resolved, stepIds);
    if ('dropped' in outcome) {
      report.dropped.push({ id: chain.id, length: outcome.length, reason: outcome.dropped });
      continue;
    }
    encoded.push(outcome);
    if (outcome.truncated) report.truncated.push({ id: chain.id, truncation: outcome.truncated });
  }
  report.encoded = encoded.length;
  return { encoded, report };
}

/**
 * Step labels of a full token sequence: question until the first step start token, then the stage of the
 * last start token seen (its end token and anything after it, such as the end-of-turn token, keep that label).
 */
export function labelTokens(tokens: readonly number[], stepTokens: StepTokenIdMap): Int32Array {
  const stageOfStart = new Map([...stepTokens].map(([stage, ids]) => [ids.start, STEP_ID[stage]]));
  const labels = new Int32Array(tokens.length);
  let current = STEP_ID.question;
  tokens.forEach((id, i) => {
    current = stageOfStart.get(id) ?? current;
    labels[i] = current;
  });
  return labels;
}

// ---------------------------------------------------------------------------------------------------
// helpers

type Resolved = Required<EncodeChainOptions>;
type Outcome = EncodedChain | { dropped: string; length: number };

function resolve(options: EncodeChainOptions): Resolved {
  const { maxLen, stages = THREE_STAGE, onOverflow = 'throw' } = options;
  check(Number.isInteger(maxLen) && maxLen >= 1, 'maxLen', maxLen, 'a positive integer');
  check(
    ['drop', 'truncate-reasoning', 'truncate', 'throw'].includes(onOverflow),
    'onOverflow',
    onOverflow,
    "'drop', 'truncate-reasoning', 'truncate' or 'throw'",
  );
  return { maxLen, stages, onOverflow };
}

function encodeOne(
  chain: Chain,
  tokenizer: Tokenizer,
  options: Resolved,
  stepTokens: StepTokenIdMap,
): Outcome {
  const { maxLen, stages, onOverflow } = options;
  const chat = chatFormat(tokenizer);
  let tokens = chat.encode(formatChain(chain, stages, chat.template));
  if (chat.endOfTurnId >= 0) tokens.push(chat.endOfTurnId);
  let truncated: Truncation | undefined;
  if (tokens.length > maxLen + 1) {
    const length = tokens.length;
    const reason = `${length} tokens exceed maxLen + 1 = ${maxLen + 1}`;
    if (onOverflow === 'throw') {
      throw new FormatError(
        `chain ${JSON.stringify(chain.id)}`,
        '',
        `${reason}; use onOverflow 'drop' or 'truncate-reasoning', or a larger maxLen`,
      );
    }
    if (onOverflow === 'drop') return { dropped: reason, length };
    const question = onOverflow === 'truncate';
    const cut = truncateReasoning(tokens, stepTokens, maxLen + 1, question);
    if (!cut)
      return {
        dropped: `${reason}, even without its reasoning blocks${question ? ' and with the question cut' : ''}`,
        length,
      };
    [tokens, truncated] = [cut.tokens, { originalLength: length, ...cut.removed }];
  }
  const labels = labelTokens(tokens, stepTokens);
  const trained = new Set(stages.filter((s) => s.trained).map((s) => STEP_ID[s.name]));
  const n = tokens.length - 1;
  const lossMask = new Float32Array(n);
  for (let i = 0; i < n; i++) lossMask[i] = trained.has(labels[i + 1]) ? 1 : 0;
  const stepIds = labels.slice(0, n);
  const encoded: EncodedChain = {
    id: chain.id,
    ids: Int32Array.from(tokens.slice(0, n)),
    targets: Int32Array.from(tokens.slice(1)),
    lossMask,
    stepIds,
    stepSpans: spansOf(stepIds),
  };
  if (truncated) encoded.truncated = truncated;
  return encoded;
}

/** Runs of equal labels → spans. */
function spansOf(stepIds: Int32Array): StepSpan[] {
  const spans: StepSpan[] = [];
  for (let i = 0; i < stepIds.length; i++) {
    const last = spans.at(-1);
    if (last && STEP_ID[last.stage] === stepIds[i]) last.end = i + 1;
    else spans.push({ stage: STEP_LABELS[stepIds[i]], start: i, end: i + 1 });
  }
  return spans;
}

interface Block {
  stage: Stage;
  /** Index of the start token and of the end token in the full sequence. */
  start: number;
  end: number;
  /** Content tokens kept (between start and end). */
  keep: number;
  removed: boolean;
}

/**
 * Shortens the non-answer blocks until the sequence has at most `limit` tokens (see the file header); with
 * `question`, then the middle of the question. Null when that is not enough.
 */
function truncateReasoning(
  tokens: readonly number[],
  stepTokens: StepTokenIdMap,
  limit: number,
  question = false,
): { tokens: number[]; removed: Omit<Truncation, 'originalLength'> } | null {
  const blocks: Block[] = [];
  for (const [stage, { start, end }] of stepTokens) {
    if (stage === 'answer') continue;
    const s = tokens.indexOf(start);
    if (s >= 0) {
      const e = tokens.indexOf(end, s);
      blocks.push({ stage, start: s, end: e, keep: e - s - 1, removed: false });
    }
  }
  let excess = tokens.length - limit;
  while (excess > 0) {
    const open = blocks.filter((b) => !b.removed);
    if (open.length === 0) break;
    const longest = open.reduce((a, b) => (b.keep > a.keep ? b : a));
    if (longest.keep > 0) {
      longest.keep--;
      excess--;
    }
    if (longest.keep === 0) {
      longest.removed = true;
      excess -= 2;
    }
  }
  const removedTokens: Partial<Record<Stage, number>> = {};
  const drop = new Set<number>();
  for (const b of blocks) {
    const from = b.removed ? b.start : b.start + 1 + b.keep;
    const to = b.removed ? b.end + 1 : b.end;
    for (let i = from; i < to; i++) drop.add(i);
    if (to > from) removedTokens[b.stage] = to - from;
  }
  const removedStages = blocks.filter((b) => b.removed).map((b) => b.stage);
  const removed: Omit<Truncation, 'originalLength'> = { removedTokens, removedStages };
  if (excess > 0) {
    // the question: from BOS (kept) to the first step start token; its middle `excess` tokens go, keeping at
    // least two at each end
    const firstStep = Math.min(
      ...[...stepTokens.values()].map((t) => tokens.indexOf(t.start)).filter((i) => i > 0),
    );
    const from = Math.floor((1 + firstStep - excess) / 2);
    if (!question || firstStep - 1 - excess < 4) return null;
    for (let i = from; i < from + excess; i++) drop.add(i);
    removed.questionTokens = excess;
  }
  return { tokens: tokens.filter((_, i) => !drop.has(i)), removed };
}
