// The AlignCoT step tokens added to a loaded base: to its tokenizer as atomic special tokens, and as trainable
// embedding rows of the model (free padding rows first, then new ones; initialised to the mean embedding:
// model/transformer.ts `addTokens`). loadBase
// (base.ts) does this after loading from disk; a page after loading from bytes.
import type { Transformer } from '../model/transformer.js';
import { DEFAULT_STEP_STAGES, type Stage, type StepTokenIds } from '../steps.js';
import { addStepTokens } from '../tokenizer/special-tokens.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';

/** A base model with the step tokens in its tokenizer and trainable rows for them in its embedding. */
export interface Base {
  model: Transformer;
  tokenizer: Tokenizer;
  /** Ids of the step tokens, by stage. */
  stepTokens: Partial<Record<Stage, StepTokenIds>>;
}

/**
 * Adds the step tokens of `stages` (default analysis, guidance, answer) to a loaded model and its tokenizer; the
 * model is disposed if that fails. The same inputs always give the same ids and rows.
 */
export function withStepTokens(
  loaded: { model: Transformer; tokenizer: Tokenizer },
  stages: readonly Stage[] = DEFAULT_STEP_STAGES,
): Base {
  const { model, tokenizer } = loaded;
  try {
    const first = tokenizer.vocabSize;
    const stepTokens = addStepTokens(tokenizer, stages);
    // only tokens new to the tokenizer get trainable rows (over free padding rows first: base.ts): a base exported
    // with the step tokens already in its vocabulary keeps them as base rows
    const added = tokenizer.vocabSize - first;
    if (added > 0) model.addTokens(added, first);
    return { model, tokenizer, stepTokens };
  } catch (e) {
    model.dispose();
    throw e;
  }
}
