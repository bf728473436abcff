// The data set-up shared by `mote demo` and the experiments: the chains split into training and held-out sets, and
// held-out eval prompts that leave room for a chain in the context. (The base with its step tokens is run/base.ts.)
import type { Chain } from '../aligncot/chain.js';
import { type EncodedChain, type EncodeReport, encodeChains } from '../aligncot/encode.js';
import { questionTurns } from '../aligncot/format.js';
import { loadChains } from '../aligncot/schema-node.js';
import type { EvalPrompt } from '../eval/prompts.js';
import { heldOutSeed } from '../run/data.js';
import { chatFormat } from '../tokenizer/chat-format.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { splitHeldOut } from '../train/split.js';

/** Chains encoded for training, with the held-out split. */
export interface ChainSplit {
  train: EncodedChain[];
  heldOut: EncodedChain[];
  /** The source chains by id (to derive other versions of the same split, e.g. answer-only chains). */
  byId: ReadonlyMap<string, Chain>;
  /** What encoding truncated or dropped (chains longer than the context). */
  report: EncodeReport;
}

/** Share of the chains the demo and the experiments hold out. */
export const HELD_OUT_FRACTION = 0.1;

/**
 * Loads the chains of `path` (any invalid line is an error), holds out a tenth of them by the library's seeded
 * split (train/split.ts, seed `heldOutSeed(seed)` as `mote train` uses it), and encodes both parts for a context
 * of `maxLen` tokens. A chain that does not fit has its reasoning truncated, then the middle of its question
 * (`onOverflow` 'truncate', encode.ts; 'drop' leaves it out instead), so every chain is kept when its answer fits.
 * Every variant of one seed sees the same held-out chains.
 */
export async function loadChainSplit(
  path: string,
  tokenizer: Tokenizer,
  maxLen: number,
  seed: number | string,
  onOverflow: 'drop' | 'truncate-reasoning' | 'truncate' = 'truncate',
): Promise<ChainSplit> {
  const { chains } = await loadChains(path, { onError: 'throw' });
  const split = splitHeldOut(chains, HELD_OUT_FRACTION, heldOutSeed(seed));
  const train = encodeChains(split.train, tokenizer, { maxLen, onOverflow });
  const heldOut = encodeChains(split.heldOut, tokenizer, { maxLen, onOverflow });
  const report: EncodeReport = {
    chains: chains.length,
    encoded: train.report.encoded + heldOut.report.encoded,
    truncated: [...train.report.truncated, ...heldOut.report.truncated],
    dropped: [...train.report.dropped, ...heldOut.report.dropped],
  };
  return {
    train: train.encoded,
    heldOut: heldOut.encoded,
    byId: new Map(chains.map((c) => [c.id, c])),
    report,
  };
}

/**
 * The prompts whose prompt ids (the question in the tokenizer's chat format) take at most half of a `context`-token
 * window, in file order.
 */
export function promptsThatFit(
  prompts: readonly EvalPrompt[],
  tokenizer: Tokenizer,
  context: number,
): EvalPrompt[] {
  const chat = chatFormat(tokenizer);
  return prompts.filter((p) => chat.promptIds(questionTurns(p.question)).length <= context / 2);
}

/** The first `n` harmful prompts, then the first `n` benign ones (fewer when the set has fewer). */
export function balancedPrompts(prompts: readonly EvalPrompt[], n: number): EvalPrompt[] {
  return [...prompts.filter((p) => p.harmful).slice(0, n), ...prompts.filter((p) => !p.harmful).slice(0, n)];
}
