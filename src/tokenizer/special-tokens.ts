// AlignCoT step tokens: each reasoning stage is wrapped in a start/end special token pair
// (`<|analysis|>…<|/analysis|>`), added to the tokenizer as atomic ids.

import { STAGES, type Stage } from '../aligncot/chain.js';
import type { Tokenizer } from './tokenizer.js';

/** Start and end strings of one stage. */
export interface StepTokenStrings {
  start: string;
  end: string;
}

/** Start and end ids of one stage. */
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

/** The stages of the 3-step chain, the default set of step tokens (`check` is opt-in). */
export const DEFAULT_STEP_STAGES = ['analysis', 'guidance', 'answer'] as const;

/**
 * Adds the start/end tokens of `stages` to `tokenizer` and returns their ids by stage. Tokens are added in
 * canonical stage order (STAGES), start before end, whatever order `stages` lists them in, so a given set
 * of stages always gets the same ids on the same base vocabulary. Already-added tokens keep their ids.
 */
export function addStepTokens<S extends Stage = (typeof DEFAULT_STEP_STAGES)[number]>(
  tokenizer: Tokenizer,
  stages: readonly S[] = DEFAULT_STEP_STAGES as readonly Stage[] as readonly S[],
): Record<S, StepTokenIds> {
  const wanted = STAGES.filter((stage): stage is S => (stages as readonly Stage[]).includes(stage));
  const ids = {} as Record<S, StepTokenIds>;
  for (const stage of wanted) {
    const { start, end } = STEP_TOKENS[stage];
    const [startId, endId] = tokenizer.addSpecialTokens([start, end]);
    ids[stage] = { start: startId, end: endId };
  }
  return ids;
}
