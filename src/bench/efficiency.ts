// The paper's efficiency claim (method.md §2 "Training efficiency"): one pass over each chain with step routing and
// step-skip masks (a) against the expanded-dataset scheme it replaces (b), on stories260K with the bundled chains,
// one epoch each, same batch size and experts. Reports counted FLOPs (flops.ts) and wall-clock, and (a)/(b).
// The paper reports 0.35× the FLOPs and 0.67× the time.
// Run alone: mote bench --only efficiency [--backend …] — one JSON line per record.
import * as tf from '@tensorflow/tfjs';
import type { Chain } from '../aligncot/chain.js';
import { type EncodedChain, encodeChain, encodeChains } from '../aligncot/encode.js';
import { loadChains } from '../aligncot/schema-node.js';
import { attachExperts } from '../experts/attach.js';
import { loadBase } from '../run/base.js';
import { STEP_ID } from '../steps.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { batches } from '../train/batch.js';
import type { TrainEvent } from '../train/trainer.js';
import { train } from '../train/trainer-node.js';
import { type FlopShape, flopShape, sumFlops } from './flops.js';

export interface EfficiencyBenchOptions {
  /** Chains from the start of the file. Default 24. */
  chains?: number;
  /** Default 8. */
  batchSize?: number;
  /** Step-skip probability of the one-pass run (FLOPs do not depend on it). Default 0.3. */
  stepSkipProb?: number;
  chainsPath?: string;
  modelPath?: string;
  tokenizerPath?: string;
}

type Reasoning = 'analysis' | 'guidance';
type Target = Reasoning | 'answer';

/**
 * The expanded-dataset scheme MoTE replaces: "up to seven extra datasets for per-step training and skipping"
 * (method.md §2). Our precise reading: for a chain with question Q, reasoning steps R (its analysis and guidance,
 * those present, in order) and answer A, one sequence per pair (target step t, visible subset S of the steps of R
 * before t): the text Q + S + t in chain order, with the loss on t's tokens only (t's step tokens included; the
 * closing EOS only when t is the answer). For a full chain that is
 *   Q→a;  Q→g, Q+a→g;  Q→A, Q+a→A, Q+g→A, Q+a+g→A      = 1 + 2 + 4 = 7 sequences,
 * 3 for a chain with analysis and answer (Q→a, Q→A, Q+a→A), 1 for an answer-only chain (Q→A). These are exactly
 * the per-step targets with their contexts that the one-pass run trains: the full chain, plus the step-skip masks
 * (a later step attending to the question and a subset of the earlier steps).
 */
export function expandChain(chain: Chain): { chain: Chain; target: Target }[] {
  const reasoning = (['analysis', 'guidance'] as const).filter((s) => chain[s] !== undefined);
  const out: { chain: Chain; target: Target }[] = [];
  const targets: Target[] = [...reasoning, 'answer'];
  targets.forEach((target, k) => {
    const before: Reasoning[] = reasoning.slice(0, Math.min(k, reasoning.length));
    for (let mask = 0; mask < 1 << before.length; mask++) {
      const visible = before.filter((_, b) => mask & (1 << b));
      // an answer-less chain is fine at run time: formatChain renders only the stages present
      const c = { id: `${chain.id}/${[...visible, target].join('+')}`, question: chain.question } as Chain;
      for (const s of [...visible, target]) c[s] = chain[s] as string;
      out.push({ chain: c, target });
    }
  });
  return out;
}

/** Encodes an expanded sequence with the loss on its target step only (see `expandChain`). */
export function encodeExpanded(
  item: { chain: Chain; target: Target },
  tokenizer: Tokenizer,
  maxLen: number,
): EncodedChain | null {
  const e = encodeChain(item.chain, tokenizer, { maxLen, onOverflow: 'drop' });
  if (!e) return null;
  const n = e.ids.length;
  const keep = STEP_ID[item.target];
  for (let i = 0; i < n; i++) {
    // target i is token i + 1, labelled stepIds[i + 1]; the last one is the EOS after the final block
    const label = i + 1 < n ? e.stepIds[i + 1] : item.target === 'answer' ? keep : -1;
    if (label !== keep) e.lossMask[i] = 0;
  }
  return e;
}

/** Records {bench:'efficiency', scheme:'one-pass'|'expanded', …} and {bench:'efficiency-ratio', …}. */
export async function benchEfficiency(opts: EfficiencyBenchOptions = {}): Promise<object[]> {
  const {
    chains: count = 24,
    batchSize = 8,
    stepSkipProb = 0.3,
    chainsPath = 'examples/data/chains.jsonl',
    modelPath = 'models/stories260K/stories260K.bin',
    tokenizerPath = 'models/stories260K/tok512.bin',
  } = opts;
  const backend = tf.getBackend();
  const chains = (await loadChains(chainsPath, { onError: 'throw' })).chains.slice(0, count);
  type Build = (tok: Tokenizer, maxLen: number) => EncodedChain[];
  const runs: [string, number, Build][] = [
    [
      'one-pass',
      stepSkipProb,
      (tok, maxLen) => encodeChains(chains, tok, { maxLen, onOverflow: 'drop' }).encoded,
    ],
    [
      'expanded',
      0,
      (tok, maxLen) => chains.flatMap(expandChain).flatMap((item) => encodeExpanded(item, tok, maxLen) ?? []),
    ],
  ];
  /** Trains one scheme on a fresh model (at most `maxSteps` steps) and returns its record. */
  const run = async (scheme: string, skip: number, build: Build, maxSteps?: number) => {
    const { model, tokenizer } = await loadBase({ model: modelPath, tokenizer: tokenizerPath });
    const experts = attachExperts(model, { kind: 'mote', seed: 0 }).config;
    const data = build(tokenizer, model.config.maxSeqLen);
    const seqLen = Math.max(...data.map((e) => e.ids.length));
    const config = {
      epochs: 1,
      batchSize,
      learningRate: 1e-4,
      stepSkipProb: skip,
      evalEvery: 0,
      saveEvery: 0,
    };
    let steps = 0;
    const t0 = performance.now();
    const onEvent = (e: TrainEvent) => e.type === 'step' && steps++;
    await train(model, { train: data }, config, { seqLen, groupByLength: true, maxSteps, onEvent });
    const seconds = (performance.now() - t0) / 1000;
    model.dispose();
    const shape = flopShape(model.config, experts, model.addedEmbedding?.shape[0] ?? 0);
    const perSequence = data.map((e) => [1, e.ids.length] as const);
    return {
      bench: 'efficiency',
      backend,
      model: 'stories260K',
      scheme,
      chains: chains.length,
      sequences: data.length,
      trainedTokens: data.reduce((n, e) => n + e.lossMask.reduce((a, b) => a + b, 0), 0),
      steps,
      gflop: round(sumFlops(shape, perSequence).total / 1e9),
      gflopExecuted: round(executedFlops(shape, data, { batchSize, seqLen }) / 1e9),
      seconds: round(seconds),
    };
  };
  // One untimed step first, so that the backend's one-time set-up does not land on whichever scheme runs first.
  await run('warm-up', stepSkipProb, runs[0][2], 1);
  const out: Awaited<ReturnType<typeof run>>[] = [];
  for (const [scheme, skip, build] of runs) out.push(await run(scheme, skip, build));
  const [a, b] = out;
  const ratio = (k: 'gflop' | 'gflopExecuted' | 'seconds') => round(a[k] / b[k]);
  const ratios = {
    bench: 'efficiency-ratio',
    backend,
    flops: ratio('gflop'),
    flopsExecuted: ratio('gflopExecuted'),
    time: ratio('seconds'),
    paper: { flops: 0.35, time: 0.67 },
  };
  return [...out, ratios];
}

/** FLOPs as run: each batch padded to its longest row (the trainer's batches: same seed, grouping and trimming). */
function executedFlops(
  shape: FlopShape,
  data: readonly EncodedChain[],
  o: { batchSize: number; seqLen: number },
): number {
  const shapes: [number, number][] = [];
  // the shuffle does not depend on stepSkipProb (batch.ts), so skip masks need not be built for the shapes
  const options = { ...o, mode: 'pad', seed: 0, epoch: 0, trim: true, groupByLength: true } as const;
  for (const b of batches(data, options)) shapes.push([b.B, b.T]);
  return sumFlops(shape, shapes).total;
}

function round(x: number): number {
  return Number(x.toPrecision(4));
}
