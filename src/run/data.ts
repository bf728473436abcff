// The data of a training run: the chains of `data.train` (and `data.eval`, or a held-out share of the training
// chains split by train/split.ts, seeded, so a resumed run holds out the same chains) encoded for the model's
// context. What encoding truncated or dropped is reported as notes for the caller to show.
import type { Chain } from '../aligncot/chain.js';
import { type EncodedChain, encodeChains } from '../aligncot/encode.js';
import { loadChains } from '../aligncot/schema-node.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import type { TrainData } from '../train/example.js';
import { splitHeldOut } from '../train/split.js';
import type { DataConfig } from './config.js';

/** The seed of a run's held-out split, from the run's seed. */
export const heldOutSeed = (seed: number | string): string => `${seed}/eval-split`;

/**
 * The train and held-out chains of a run, encoded for a context of `context` tokens. `notes` says how many
 * chains were encoded, truncated and dropped.
 */
export async function prepareChains(
  d: DataConfig,
  tokenizer: Tokenizer,
  context: number,
  seed: number | string,
): Promise<{ data: TrainData; notes: string[] }> {
  const all = (await loadChains(d.train, { onError: 'throw' })).chains;
  if (all.length === 0) throw new Error(`${d.train}: no chains to train on (the file is empty)`);
  let train: Chain[] = all;
  let held: Chain[] = [];
  if (d.eval !== null) held = (await loadChains(d.eval, { onError: 'throw' })).chains;
  else if (d.evalFraction > 0)
    ({ train, heldOut: held } = splitHeldOut(all, d.evalFraction, heldOutSeed(seed)));
  if (train.length === 0)
    throw new Error(`${d.train}: evalFraction ${d.evalFraction} leaves no training chains of ${all.length}`);

  const maxLen = d.maxLen ?? context;
  if (maxLen > context)
    throw new Error(`data.maxLen ${maxLen} exceeds the model's context of ${context} tokens`);
  const notes: string[] = [];
  const encode = (chains: Chain[], name: string): EncodedChain[] => {
    const { encoded, report } = encodeChains(chains, tokenizer, { maxLen, onOverflow: d.onOverflow });
    const question = report.truncated.filter((t) => t.truncation.questionTokens).length;
    notes.push(
      `${name}: ${report.encoded} of ${report.chains} chains encoded (max ${maxLen} tokens)` +
        (report.truncated.length ? `, ${report.truncated.length} with reasoning truncated` : '') +
        (question ? ` (${question} with the middle of the question cut)` : '') +
        (report.dropped.length ? `, ${report.dropped.length} dropped as too long` : ''),
    );
    return encoded;
  };
  const encodedTrain = encode(train, 'train');
  if (encodedTrain.length === 0)
    throw new Error(`${d.train}: no chain fits in ${maxLen} tokens (all ${train.length} dropped)`);
  const encodedEval = held.length ? encode(held, 'eval') : [];
  return { data: { train: encodedTrain, eval: encodedEval.length ? encodedEval : undefined }, notes };
}
