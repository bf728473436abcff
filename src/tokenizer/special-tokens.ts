// Adding the AlignCoT step tokens (src/steps.ts) to a tokenizer: each reasoning stage is wrapped in a start/end
// special token pair (`<|analysis|>…<|/analysis|>`), added as atomic ids.

import { DEFAULT_STEP_STAGES, STAGES, STEP_TOKENS, type Stage, type StepTokenIds } from '../steps.js';
import type { Tokenizer } from './tokenizer.js';

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
