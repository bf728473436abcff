// Chain format adherence of a generated text (method.md §1 "Serialisation", §2 "Adaptive inference"): the
// model emits its own step tokens, so its output can be malformed in ways a training chain never is. Unlike
// `parseChainText` (aligncot/format.ts), which throws at the first problem, this check reads the whole text
// and lists every violation, so a report can count them by kind.
//
//   well formed:  "<|analysis|> …<|/analysis|><|guidance|> …<|/guidance|><|response|> …<|/response|>"
//                 "<|response|> …<|/response|>"                              (an answer-only chain)
//   violations:   "<|analysis|> …<|response|> …<|/response|>"               unclosed analysis
//                 "<|response|> …<|/response|><|analysis|> …<|/analysis|>"  out-of-order
//                 "<|response|> …<|/response|> and then more"               text-after-answer
//
// The text is what the model generated after the question (no "User: …" line). Whitespace between blocks
// is allowed; one space after a start token is part of the template and not of the content.

import { STAGES, STEP_TOKENS, type Stage } from '../steps.js';

/** The kinds of format violation. */
export const FORMAT_VIOLATIONS = [
  /** A `<|name|>` / `<|/name|>` token of an unknown stage, or of a stage not allowed (e.g. `check`). */
  'unknown-stage',
  /** A start token whose block is never closed (another start token or the end of the text came first). */
  'unclosed',
  /** An end token without its start token before it. */
  'unopened',
  /** A stage after one that comes later in chain order (analysis → guidance → answer). */
  'out-of-order',
  /** A stage that already had a block. */
  'duplicate',
  /** No closed answer block. */
  'missing-answer',
  /** A closed block with only whitespace inside. */
  'empty-block',
  /** Text outside any block before the answer. */
  'stray-text',
  /** Text after the answer block. */
  'text-after-answer',
] as const;
/** One of FORMAT_VIOLATIONS. */
export type FormatViolationKind = (typeof FORMAT_VIOLATIONS)[number];

/** One violation: its kind, the stage concerned, and the character offset in the text. */
export interface FormatViolation {
  kind: FormatViolationKind;
  stage?: string;
  offset: number;
  /** What was found and what was expected (no text of the output beyond token names). */
  detail: string;
}

/** Which stages a chain used, by the paper's adaptive-length patterns. */
export const STAGE_PATTERNS = [
  'answer-only',
  'analysis-answer',
  'guidance-answer',
  'full',
  'no-answer',
] as const;
/** One of STAGE_PATTERNS. */
export type StagePattern = (typeof STAGE_PATTERNS)[number];

/** Human-readable names of the patterns, for reports. */
export const STAGE_PATTERN_LABELS: Readonly<Record<StagePattern, string>> = Object.freeze({
  'answer-only': 'answer only',
  'analysis-answer': 'analysis → answer',
  'guidance-answer': 'guidance → answer',
  full: 'analysis → guidance → answer',
  'no-answer': 'no answer',
});

/** Options of `checkChainFormat`. */
export interface FormatOptions {
  /** The stages a block may have. Default analysis, guidance, answer (`check` is not generated at inference). */
  stages?: readonly Stage[];
  /** Counts the tokens of a block's content (e.g. `(s) => tokenizer.encode(s).length`); enables token counts. */
  countTokens?: (text: string) => number;
}

/** The format check of one text. */
export interface FormatResult {
  /** True when there is no violation. */
  wellFormed: boolean;
  violations: FormatViolation[];
  /** Stages with a closed block, in the order they appear. */
  stagesUsed: Stage[];
  pattern: StagePattern;
  /** The content of the first closed block of each stage. */
  blocks: Partial<Record<Stage, string>>;
  /** Content tokens of each closed block (without its step tokens), when `countTokens` was given. */
  tokensPerStage?: Partial<Record<Stage, number>>;
  /** Content tokens of the answer block, when `countTokens` was given and there is one. */
  answerTokens?: number;
}

/** Checks the step-token structure of a generated text; never throws on malformed text. */
export function checkChainFormat(text: string, options: FormatOptions = {}): FormatResult {
  const allowed = new Set<Stage>(options.stages ?? ['analysis', 'guidance', 'answer']);
  const violations: FormatViolation[] = [];
  const add = (kind: FormatViolationKind, offset: number, detail: string, stage?: string) =>
    violations.push({ kind, offset, detail, ...(stage !== undefined && { stage }) });
  const blocks: Partial<Record<Stage, string>> = {};
  const stagesUsed: Stage[] = [];
  const seen = new Set<Stage>();
  let open: { stage: Stage; at: number; from: number } | undefined;
  let lastOrder = -1;
  let cursor = 0;
  let afterAnswer = false;

  const gap = (to: number) => {
    if (open || text.slice(cursor, to).trim() === '') return;
    if (afterAnswer) add('text-after-answer', cursor, 'expected nothing after the answer block, found text');
    else add('stray-text', cursor, 'expected only step blocks, found text outside any block');
  };

  for (const m of text.matchAll(STEP_TOKEN_LIKE)) {
    const at = m.index;
    gap(at);
    cursor = at + m[0].length;
    const token = TOKENS.get(m[0]);
    if (!token || !allowed.has(token.stage)) {
      add('unknown-stage', at, `expected a step token of ${[...allowed].join(', ')}, found ${m[0]}`, m[2]);
      continue;
    }
    const { stage, end } = token;
    if (!end) {
      if (open)
        add('unclosed', open.at, `expected ${STEP_TOKENS[open.stage].end} before ${m[0]}`, open.stage);
      const order = STAGES.indexOf(stage);
      if (seen.has(stage)) add('duplicate', at, `expected each stage once, found ${m[0]} again`, stage);
      else if (order < lastOrder)
        add('out-of-order', at, `expected stages in order ${ORDER_TEXT}, found ${stage} late`, stage);
      seen.add(stage);
      lastOrder = Math.max(lastOrder, order);
      open = { stage, at, from: cursor };
    } else if (open?.stage !== stage) {
      const where = open ? ` (inside the ${open.stage} block)` : '';
      add('unopened', at, `expected ${STEP_TOKENS[stage].start} before ${m[0]}${where}`, stage);
    } else {
      let content = text.slice(open.from, at);
      if (content.startsWith(' ')) content = content.slice(1);
      if (content.trim() === '') add('empty-block', open.at, `expected text in the ${stage} block`, stage);
      if (blocks[stage] === undefined) {
        blocks[stage] = content;
        stagesUsed.push(stage);
      }
      if (stage === 'answer') afterAnswer = true;
      open = undefined;
    }
  }
  gap(text.length);
  if (open)
    add(
      'unclosed',
      open.at,
      `expected ${STEP_TOKENS[open.stage].end} before the end of the text`,
      open.stage,
    );
  if (blocks.answer === undefined)
    add('missing-answer', text.length, `expected an answer block ${ANSWER_TEXT}`, 'answer');

  const result: FormatResult = {
    wellFormed: violations.length === 0,
    violations,
    stagesUsed,
    pattern: stagePattern(blocks),
    blocks,
  };
  if (options.countTokens) {
    const count = options.countTokens;
    result.tokensPerStage = Object.fromEntries(stagesUsed.map((s) => [s, count(blocks[s]!)]));
    if (blocks.answer !== undefined) result.answerTokens = result.tokensPerStage.answer;
  }
  return result;
}

/** The pattern of the stages present (a key whose value is not undefined): e.g. {analysis, answer} → 'analysis-answer'. */
export function stagePattern(stages: Partial<Record<Stage, unknown>>): StagePattern {
  if (stages.answer === undefined) return 'no-answer';
  const a = stages.analysis !== undefined;
  const g = stages.guidance !== undefined;
  return a && g ? 'full' : a ? 'analysis-answer' : g ? 'guidance-answer' : 'answer-only';
}

// ---------------------------------------------------------------------------------------------------
// helpers

/** Anything shaped like a step token: `<|name|>` or `<|/name|>`. */
const STEP_TOKEN_LIKE = /<\|(\/?)([A-Za-z_][\w-]*)\|>/g;

/** Step token string → its stage and whether it ends the block. */
const TOKENS = new Map<string, { stage: Stage; end: boolean }>(
  STAGES.flatMap((stage) => [
    [STEP_TOKENS[stage].start, { stage, end: false }],
    [STEP_TOKENS[stage].end, { stage, end: true }],
  ]),
);

const ORDER_TEXT = STAGES.join(' → ');
const ANSWER_TEXT = `${STEP_TOKENS.answer.start} … ${STEP_TOKENS.answer.end}`;
