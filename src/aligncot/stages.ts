// Stage definitions as data (method.md §1): which steps a chain has, in which order, how they are wrapped
// in step tokens, and which of them are training targets. Stage names and token spellings come from src/steps.ts.

import { STAGES, STEP_TOKENS, type Stage } from '../steps.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { ConfigError, check } from '../util/errors.js';

/** One stage of a chain: its name, its start/end token strings and whether its tokens are loss targets. */
export interface StageSpec {
  readonly name: Stage;
  /** Start token string, e.g. `<|analysis|>`. */
  readonly start: string;
  /** End token string, e.g. `<|/analysis|>`. */
  readonly end: string;
  /** Whether the stage's tokens (content, start and end token) are training targets. */
  readonly trained: boolean;
}

/** The stages of a chain in chain order; always contains `answer`. */
export type StageSet = readonly StageSpec[];

/**
 * Builds a StageSet from stage names (canonical order analysis → guidance → answer → check; `answer`
 * required). `trained` lists the stages whose tokens are loss targets; by default every stage but `check`,
 * whose verdict is used to build data, not trained on (method.md §1). Throws a ConfigError on unknown,
 * repeated or out-of-order names.
 */
export function defineStages(
  names: readonly string[],
  options: { trained?: readonly string[] } = {},
): StageSet {
  names.forEach((name, i) => {
    check((STAGES as readonly string[]).includes(name), `stages[${i}]`, name, `one of ${STAGES.join(', ')}`);
    const order = STAGES.indexOf(name as Stage);
    const prev = i > 0 ? STAGES.indexOf(names[i - 1] as Stage) : -1;
    check(
      order > prev,
      `stages[${i}]`,
      name,
      `stages in chain order (${STAGES.join(' → ')}), each at most once`,
    );
  });
  check(names.includes('answer'), 'stages', names, 'a list containing "answer"');
  const trained = options.trained ?? names.filter((n) => n !== 'check');
  trained.forEach((name, i) => {
    check(names.includes(name), `trained[${i}]`, name, `one of the stages (${names.join(', ')})`);
  });
  return Object.freeze(
    names.map((name) =>
      Object.freeze({ name: name as Stage, ...STEP_TOKENS[name as Stage], trained: trained.includes(name) }),
    ),
  );
}

/** The default 3-stage AlignCoT chain: analysis → guidance → answer, all trained. */
export const THREE_STAGE: StageSet = defineStages(['analysis', 'guidance', 'answer']);

/** The 4-stage chain (ACL 2025 version): adds the Safety Check after the answer, not trained. */
export const FOUR_STAGE: StageSet = defineStages(['analysis', 'guidance', 'answer', 'check']);

/** The names of a StageSet, e.g. to pass to `addStepTokens(tokenizer, stageNames(stages))`. */
export function stageNames(stages: StageSet): Stage[] {
  return stages.map((s) => s.name);
}

/** The start and end token ids of each stage of a StageSet, read from a tokenizer. */
export type StepTokenIdMap = ReadonlyMap<Stage, { start: number; end: number }>;

/**
 * Looks up the step token ids of `stages` among the tokenizer's special tokens. Throws a ConfigError naming
 * the missing token when the tokenizer was not extended (call `addStepTokens` first): an ordinary piece
 * would be split by the tokenizer's merges, and the step labels could not be read from the token stream.
 */
export function stepTokenIds(tokenizer: Tokenizer, stages: StageSet): StepTokenIdMap {
  const ids = new Map<Stage, { start: number; end: number }>();
  for (const stage of stages) {
    const [start, end] = [stage.start, stage.end].map((piece) => {
      const id = tokenizer.specialTokens.get(piece);
      if (id === undefined) {
        throw new ConfigError(
          'tokenizer',
          piece,
          `a tokenizer with the special token ${piece}; call addStepTokens(tokenizer, ${JSON.stringify(stageNames(stages))}) first`,
        );
      }
      return id;
    });
    ids.set(stage.name, { start, end });
  }
  return ids;
}
