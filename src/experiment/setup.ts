// The set-up shared by `mote demo` and the experiments: the base model with the AlignCoT step tokens, the chains
// split into training and held-out sets, and held-out eval prompts that leave room for a chain in the context.
import type { Chain } from '../aligncot/chain.js';
import { type EncodedChain, type EncodeReport, encodeChains } from '../aligncot/encode.js';
import { formatQuestion } from '../aligncot/format.js';
import { loadChains } from '../aligncot/schema.js';
import type { EvalPrompt } from '../eval/prompts.js';
import { loadModel } from '../io/load.js';
import type { Transformer } from '../model/transformer.js';
import type { DEFAULT_STEP_STAGES, StepTokenIds } from '../steps.js';
import { addStepTokens } from '../tokenizer/index.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';

/** Files of a llama2.c base model. */
export interface BasePaths {
  /** llama2.c `.bin` checkpoint. */
  model: string;
  /** Its llama2.c `tokenizer.bin`. */
  tokenizer: string;
}

/** A base model ready for experts: step tokens in the tokenizer and as new trainable rows of the model. */
export interface Base {
  model: Transformer;
  tokenizer: Tokenizer;
  /** Ids of the added step tokens, by stage. */
  stepTokens: Record<(typeof DEFAULT_STEP_STAGES)[number], StepTokenIds>;
}

/**
 * Loads a llama2.c base (frozen) and its tokenizer, adds the AlignCoT step tokens to the tokenizer and as new
 * embedding rows (initialised to the mean embedding) to the model. Every call builds a fresh, identical state.
 */
export async function loadBaseWithStepTokens(paths: BasePaths): Promise<Base> {
  const { model, tokenizer } = await loadModel(paths.model, { tokenizer: paths.tokenizer });
  const stepTokens = addStepTokens(tokenizer);
  const added = tokenizer.vocabSize - model.config.vocabSize;
  if (added > 0) model.addTokens(added);
  return { model, tokenizer, stepTokens };
}

/** Chains encoded for training, with the held-out split. */
export interface ChainSplit {
  train: EncodedChain[];
  heldOut: EncodedChain[];
  /** The source chains by id (to derive other versions of the same split, e.g. answer-only chains). */
  byId: ReadonlyMap<string, Chain>;
  /** What encoding dropped (chains longer than the context). */
  report: EncodeReport;
}

/**
 * Loads the chains of `path` (any invalid line is an error), encodes them for a context of `maxLen` tokens
 * (dropping chains that do not fit) and holds out every 10th encoded chain by position (0, 10, 20, …): a fixed
 * split that needs no seed, so every run and every variant sees the same held-out chains.
 */
export async function loadChainSplit(
  path: string,
  tokenizer: Tokenizer,
  maxLen: number,
): Promise<ChainSplit> {
  const { chains } = await loadChains(path, { onError: 'throw' });
  const { encoded, report } = encodeChains(chains, tokenizer, { maxLen, onOverflow: 'drop' });
  return {
    train: encoded.filter((_, i) => i % 10 !== 0),
    heldOut: encoded.filter((_, i) => i % 10 === 0),
    byId: new Map(chains.map((c) => [c.id, c])),
    report,
  };
}

/** The prompts whose question (with BOS) takes at most half of a `context`-token window, in file order. */
export function promptsThatFit(
  prompts: readonly EvalPrompt[],
  tokenizer: Tokenizer,
  context: number,
): EvalPrompt[] {
  return prompts.filter(
    (p) => tokenizer.encode(formatQuestion(p.question), { bos: true }).length <= context / 2,
  );
}

/** The first `n` harmful prompts, then the first `n` benign ones (fewer when the set has fewer). */
export function balancedPrompts(prompts: readonly EvalPrompt[], n: number): EvalPrompt[] {
  return [...prompts.filter((p) => p.harmful).slice(0, n), ...prompts.filter((p) => !p.harmful).slice(0, n)];
}
