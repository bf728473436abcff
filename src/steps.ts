// The step vocabulary of the method (method.md §1–2) in one place: the reasoning stages in chain order, the step
// label of every token and its numeric id, the special tokens that wrap each stage, and which expert a token of
// each step goes to. It imports nothing; every other module takes these from here, so a step id is the same
// number from the chain encoder to the mixing kernel.
//
//   step id   0          1           2           3         4
//   label     question   analysis    guidance    answer    check
//   tokens    —          <|analysis|> <|guidance|> <|response|> <|check|>   (and <|/analysis|> … to close)
//
// With the default step experts [analysis, guidance, answer], `stepExpertTable` maps the ids to expert indices
// [QUESTION, 0, 1, 2, NO_EXPERT]: question tokens get a step expert chosen per chain (training [paper]) or by the
// caller (inference [open]); a stage without an expert of its own has none.

/** Reasoning steps in chain order. `check` (the 4-stage chain's Safety Check) is used to build data, not trained on by default. */
export const STAGES = ['analysis', 'guidance', 'answer', 'check'] as const;
export type Stage = (typeof STAGES)[number];

/** The stages of the 3-step chain, the default set of step tokens and step experts (`check` is opt-in). */
export const DEFAULT_STEP_STAGES = ['analysis', 'guidance', 'answer'] as const;

/**
 * Per-token step labels; the index is the step id. `question` covers BOS and the question (and padding in
 * batches); the others are the stage blocks, their step tokens included.
 */
export const STEP_LABELS = ['question', ...STAGES] as const;
export type StepLabel = (typeof STEP_LABELS)[number];

/** Step label → step id: question 0, analysis 1, guidance 2, answer 3, check 4. */
export const STEP_ID: Readonly<Record<StepLabel, number>> = Object.freeze(
  Object.fromEntries(STEP_LABELS.map((label, i) => [label, i])) as Record<StepLabel, number>,
);

/** Start and end strings of one stage. */
export interface StepTokenStrings {
  start: string;
  end: string;
}

/** Start and end ids of one stage in a tokenizer. */
export interface StepTokenIds {
  start: number;
  end: number;
}

/** The start/end strings of every stage. The answer stage is written `<|response|>`. */
export const STEP_TOKENS: Readonly<Record<Stage, Readonly<StepTokenStrings>>> = Object.freeze({
  analysis: Object.freeze({ start: '<|analysis|>', end: '<|/analysis|>' }),
  guidance: Object.freeze({ start: '<|guidance|>', end: '<|/guidance|>' }),
  answer: Object.freeze({ start: '<|response|>', end: '<|/response|>' }),
  check: Object.freeze({ start: '<|check|>', end: '<|/check|>' }),
});

/** The expert every token also uses (unless disabled); never routed. */
export const SHARED = 'shared';
/** A step expert is named after the stage it serves; `shared` names the shared expert. */
export type ExpertName = Stage | typeof SHARED;

/** Expert index of a token that uses no step expert (the shared expert only). */
export const SHARED_ONLY = -1;
/** In a step → expert table: the question's expert, chosen per chain (training) or by the caller (inference). */
export const QUESTION_EXPERT = -2;
/** In a step → expert table: a stage that has no step expert of its own. */
export const NO_EXPERT = -3;

/**
 * The step → expert table for step experts `experts` (in index order): entry `id` is the expert index of a token
 * with step id `id` (see the file header).
 */
export function stepExpertTable(experts: readonly string[]): Int32Array {
  return Int32Array.from(STEP_LABELS, (label) => {
    if (label === 'question') return QUESTION_EXPERT;
    const e = experts.indexOf(label);
    return e >= 0 ? e : NO_EXPERT;
  });
}

/** Index of a named expert among `experts` (SHARED_ONLY for 'shared'); throws for a name that is not there. */
export function expertIndex(experts: readonly string[], name: string): number {
  if (name === SHARED) return SHARED_ONLY;
  const i = experts.indexOf(name);
  if (i < 0) throw new Error(`unknown expert '${name}'; expected one of ${[...experts, SHARED].join(', ')}`);
  return i;
}

/** The expert whose tokens a stage uses at inference: its own step expert, or the shared expert when it has none. */
export function expertOfStage(experts: readonly string[], stage: ExpertName): ExpertName {
  return stage === SHARED || experts.includes(stage) ? stage : SHARED;
}
