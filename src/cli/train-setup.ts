// What `mote train` prepares before the loop: the model (base + step tokens + experts) and the data (chains
// loaded, held-out split, encoded), each reported as lines for the caller to print; and the metrics file.
import { appendFile } from 'node:fs/promises';
import seedrandom from 'seedrandom';
import type { Chain } from '../aligncot/chain.js';
import { type EncodedChain, encodeChains } from '../aligncot/encode.js';
import { loadChains } from '../aligncot/schema.js';
import { attachExperts } from '../experts/attach.js';
import { loadModel } from '../io/load.js';
import type { Transformer } from '../model/transformer.js';
import { addStepTokens } from '../tokenizer/index.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import type { TrainData, TrainEvent } from '../train/trainer.js';
import type { RunConfig } from './config-file.js';

/** Loads the base and its tokenizer, adds the step tokens (trainable rows) and attaches the experts. */
export async function prepareModel(run: RunConfig): Promise<{ model: Transformer; tokenizer: Tokenizer }> {
  const full = run.experts.kind === 'none';
  const { model, tokenizer } = await loadModel(run.model.base, {
    tokenizer: run.model.tokenizer,
    trainable: full,
  });
  addStepTokens(tokenizer);
  const added = tokenizer.vocabSize - model.config.vocabSize;
  if (added > 0) model.addTokens(added);
  if (run.experts.kind !== 'none')
    attachExperts(model, run.experts as Exclude<RunConfig['experts'], { kind: 'none' }>);
  return { model, tokenizer };
}

/**
 * The train and held-out chains, encoded. The held-out split (when `data.eval` is null and evalFraction > 0) is a
 * seeded shuffle of the chains, so the same file and seed always give the same split (resume relies on it).
 * `notes` says what was dropped or truncated.
 */
export async function prepareData(
  run: RunConfig,
  tokenizer: Tokenizer,
  context: number,
): Promise<{ data: TrainData; notes: string[] }> {
  const { data: d } = run;
  const all = (await loadChains(d.train, { onError: 'throw' })).chains;
  let train: Chain[] = all;
  let held: Chain[] = [];
  if (d.eval !== null) held = (await loadChains(d.eval, { onError: 'throw' })).chains;
  else if (d.evalFraction > 0)
    [train, held] = splitChains(all, d.evalFraction, `${run.train.seed}/eval-split`);
  if (all.length === 0) throw new Error(`${d.train}: no chains to train on (the file is empty)`);
  if (train.length === 0)
    throw new Error(`${d.train}: evalFraction ${d.evalFraction} leaves no training chains of ${all.length}`);

  const maxLen = d.maxLen ?? context;
  if (maxLen > context)
    throw new Error(`data.maxLen ${maxLen} exceeds the model's context of ${context} tokens`);
  const notes: string[] = [];
  const encode = (chains: Chain[], name: string): EncodedChain[] => {
    const { encoded, report } = encodeChains(chains, tokenizer, { maxLen, onOverflow: d.onOverflow });
    notes.push(
      `${name}: ${report.encoded} of ${report.chains} chains encoded (max ${maxLen} tokens)` +
        (report.truncated.length ? `, ${report.truncated.length} with reasoning truncated` : '') +
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

/** Splits off round(fraction·n) chains (at least 1) by a seeded shuffle; both parts keep file order. */
export function splitChains(chains: readonly Chain[], fraction: number, seed: string): [Chain[], Chain[]] {
  const rng = seedrandom(seed);
  const order = chains.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const n = Math.min(chains.length, Math.max(1, Math.round(fraction * chains.length)));
  const held = new Set(order.slice(0, n));
  return [chains.filter((_, i) => !held.has(i)), chains.filter((_, i) => held.has(i))];
}

/**
 * Appends one JSON line per step and eval event to `path`: `{type:'step', split:'train', step, loss, byStage, …}`
 * and `{type:'eval', split:'eval', step, loss, byStage, tokens}`. Writes are queued in order; `flush` waits for them.
 */
export function metricsWriter(path: string): { onEvent(e: TrainEvent): void; flush(): Promise<void> } {
  let queue = Promise.resolve();
  let failure: Error | null = null;
  const write = (record: object) => {
    queue = queue.then(() =>
      appendFile(path, `${JSON.stringify(record)}\n`).catch((e: Error) => {
        failure ??= e;
      }),
    );
  };
  return {
    onEvent: (e) => {
      if (e.type === 'step') {
        const { type, ...rest } = e;
        write({ type, split: 'train', ...rest, time: new Date().toISOString() });
      } else if (e.type === 'eval') {
        const { loss, byStage, tokens } = e.result;
        write({
          type: 'eval',
          split: 'eval',
          step: e.step,
          loss,
          byStage,
          tokens,
          time: new Date().toISOString(),
        });
      }
    },
    flush: async () => {
      await queue;
      if (failure) throw new Error(`cannot write metrics ${path}: ${failure.message}`);
    },
  };
}
