// Dataset statistics in the spirit of the paper's Table 2: how many chains have each step, the share of
// answer-only chains, tokens per step, and a diversity figure (Self-BLEU-4 over a seeded sample of answers).

import seedrandom from 'seedrandom';
import type { StepLabel } from '../steps.js';
import { STAGES, type Stage } from '../steps.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { check } from '../util/errors.js';
import { shuffledIndices } from '../util/shuffle.js';
import { bleuTokens, selfBleu } from './bleu.js';
import type { Chain } from './chain.js';
import { formatQuestion, stageText } from './format.js';

/** Token counts of one step over the chains that have it. */
export interface TokenStats {
  /** Chains with the step. */
  count: number;
  total: number;
  mean: number;
  median: number;
  max: number;
}

export interface ChainStats {
  chains: number;
  /** Chains with each stage (`answer` equals `chains`). */
  withStage: Record<Stage, number>;
  /** Chains with neither analysis nor guidance. */
  answerOnly: number;
  /** answerOnly / chains (0 for no chains). */
  answerOnlyShare: number;
  /** Chains whose question is a dialogue of more than one turn. */
  multiTurn: number;
  /** Check verdicts, over the chains that have a check. */
  verdicts: { safe: number; unsafe: number };
  /**
   * Tokens per step, with a tokenizer: `question` counts the rendered question ("User: …\n" lines), a stage
   * its text alone (no step tokens, no BOS). Steps no chain has are absent.
   */
  tokens?: Partial<Record<StepLabel, TokenStats>>;
  /** Self-BLEU-4 of a seeded sample of answers (bleu.ts); absent with fewer than two answers or a sample of 0. */
  selfBleu4?: { value: number; sample: number };
}

export interface StatsOptions {
  /** Counts tokens per step when given. */
  tokenizer?: Tokenizer;
  /** Answers sampled (without replacement) for Self-BLEU; all when there are fewer. 0 disables. Default 100. */
  selfBleuSample?: number;
  /** Seed of the sample. Default 0. */
  seed?: string | number;
}

/** Statistics of a set of chains (see ChainStats). */
export function chainStats(chains: readonly Chain[], options: StatsOptions = {}): ChainStats {
  const { tokenizer, selfBleuSample = 100, seed = 0 } = options;
  check(
    Number.isInteger(selfBleuSample) && selfBleuSample >= 0,
    'selfBleuSample',
    selfBleuSample,
    'a non-negative integer',
  );
  const withStage = Object.fromEntries(STAGES.map((s) => [s, 0])) as Record<Stage, number>;
  const verdicts = { safe: 0, unsafe: 0 };
  let answerOnly = 0;
  let multiTurn = 0;
  for (const c of chains) {
    for (const s of STAGES) if (stageText(c, s) !== undefined) withStage[s]++;
    if (c.analysis === undefined && c.guidance === undefined) answerOnly++;
    if (Array.isArray(c.question) && c.question.length > 1) multiTurn++;
    if (c.check) verdicts[c.check.verdict]++;
  }
  const stats: ChainStats = {
    chains: chains.length,
    withStage,
    answerOnly,
    answerOnlyShare: chains.length === 0 ? 0 : answerOnly / chains.length,
    multiTurn,
    verdicts,
  };
  if (tokenizer) stats.tokens = tokenStats(chains, tokenizer);
  const sample = sampleOf(
    chains.map((c) => c.answer),
    selfBleuSample,
    seed,
  );
  if (sample.length >= 2)
    stats.selfBleu4 = { value: selfBleu(sample.map(bleuTokens)), sample: sample.length };
  return stats;
}

/** Mean, median, max and total of a list of counts (all 0 for an empty list). */
export function summarize(counts: readonly number[]): TokenStats {
  const sorted = [...counts].sort((a, b) => a - b);
  const n = sorted.length;
  const total = sorted.reduce((a, b) => a + b, 0);
  const median = n === 0 ? 0 : n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  return { count: n, total, mean: n === 0 ? 0 : total / n, median, max: n === 0 ? 0 : sorted[n - 1] };
}

// ---------------------------------------------------------------------------------------------------
// helpers

function tokenStats(chains: readonly Chain[], tokenizer: Tokenizer): Partial<Record<StepLabel, TokenStats>> {
  const count = (text: string) => tokenizer.encode(text, { bos: false, eos: false }).length;
  const out: Partial<Record<StepLabel, TokenStats>> = {
    question: summarize(chains.map((c) => count(formatQuestion(c.question)))),
  };
  for (const s of STAGES) {
    const texts = chains.map((c) => stageText(c, s)).filter((t): t is string => t !== undefined);
    if (texts.length > 0) out[s] = summarize(texts.map(count));
  }
  if (chains.length === 0) delete out.question;
  return out;
}

/** Up to k items drawn without replacement by the seeded shuffle; all items (in order) when k ≥ n. */
function sampleOf<T>(items: readonly T[], k: number, seed: string | number): T[] {
  if (k >= items.length) return [...items];
  return shuffledIndices(items.length, seedrandom(`${seed}/self-bleu`))
    .slice(0, k)
    .map((i) => items[i]);
}
