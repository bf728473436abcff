// Choosing the next token from logits on the host (llama2.c `sample`): greedy, temperature, top-k, top-p.
// Logits holding NaN or +Inf (a model whose weights or activations are not finite) are an error: an argmax over
// NaN would pick id 0 and print `<unk>` as if it were text.
import seedrandom from 'seedrandom';
import { check } from '../util/errors.js';

export interface SamplingConfig {
  /** Softmax temperature; 0 = greedy (argmax). Default 1. */
  temperature: number;
  /** Keep only the k most likely tokens; 0 = off. Default 0. */
  topK: number;
  /** Nucleus sampling: keep the smallest set whose probability reaches p; 1 = off. Default 0.9 (run.c). */
  topP: number;
  /** Seed of the sampling RNG, so a run repeats exactly. Default 42. */
  seed: number | string;
}

export const DEFAULT_SAMPLING_CONFIG: Readonly<SamplingConfig> = Object.freeze({
  temperature: 1,
  topK: 0,
  topP: 0.9,
  seed: 42,
});

export function resolveSamplingConfig(partial: Partial<SamplingConfig> = {}): Readonly<SamplingConfig> {
  const c = { ...DEFAULT_SAMPLING_CONFIG, ...partial };
  check(
    typeof c.temperature === 'number' && c.temperature >= 0 && Number.isFinite(c.temperature),
    'temperature',
    c.temperature,
    'a finite number ≥ 0 (0 = greedy)',
  );
  check(Number.isInteger(c.topK) && c.topK >= 0, 'topK', c.topK, 'an integer ≥ 0 (0 = off)');
  check(
    typeof c.topP === 'number' && c.topP > 0 && c.topP <= 1,
    'topP',
    c.topP,
    'a number in (0, 1] (1 = off)',
  );
  return Object.freeze(c);
}

/** The next-token logits hold NaN or +Inf, or allow no token at all: there is nothing to sample. */
export class NonFiniteLogitsError extends Error {
  constructor(
    readonly nan: number,
    readonly posInf: number,
    readonly vocab: number,
  ) {
    super(
      nan + posInf > 0
        ? `the model's next-token logits hold ${nan} NaN and ${posInf} +Inf values of ${vocab}: its weights or activations are not finite (check the model file or the run's adapters); nothing was sampled`
        : `every one of the ${vocab} next-token logits is −Inf: no token is allowed; nothing was sampled`,
    );
    this.name = 'NonFiniteLogitsError';
  }
}

/** Throws NonFiniteLogitsError unless every logit is finite or −∞ (a banned id) and at least one is finite. */
export function checkLogits(logits: ArrayLike<number>): void {
  let nan = 0;
  let posInf = 0;
  let allowed = 0;
  for (let i = 0; i < logits.length; i++) {
    const x = logits[i];
    if (Number.isNaN(x)) nan++;
    else if (x === Number.POSITIVE_INFINITY) posInf++;
    else if (x !== Number.NEGATIVE_INFINITY) allowed++;
  }
  if (nan + posInf > 0 || allowed === 0) throw new NonFiniteLogitsError(nan, posInf, logits.length);
}

/** Index of the largest value (the first one on ties, as run.c). */
export function argmax(v: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
  return best;
}

/**
 * The logits of the ids a tokenizer has, [0, vocabSize): a view, not a copy. A model may have more embedding rows
 * than its tokenizer has ids (Qwen2.5: 151,936 rows for 151,665 ids, the rest padding no token uses, and never
 * trained); sampling from all of them would now and then give an id that no tokenizer can decode.
 */
export function tokenizerLogits(logits: Float32Array, vocabSize: number): Float32Array {
  return vocabSize < logits.length ? logits.subarray(0, vocabSize) : logits;
}

/** A seeded sampler: logits (vocab) → token id. */
export function createSampler(config: Partial<SamplingConfig> = {}): (logits: Float32Array) => number {
  const { temperature, topK, topP, seed } = resolveSamplingConfig(config);
  const rng = seedrandom(String(seed));
  if (temperature === 0)
    return (logits) => {
      checkLogits(logits);
      return argmax(logits);
    };
  return (logits) => {
    checkLogits(logits);
    // softmax over the whole vocabulary at this temperature
    const V = logits.length;
    const max = logits[argmax(logits)];
    const p = new Float64Array(V);
    let z = 0;
    for (let i = 0; i < V; i++) z += p[i] = Math.exp((logits[i] - max) / temperature);
    if (topP >= 1 && topK === 0) {
      // the whole distribution: drawn in id order, no candidate list to sort (151,665 ids for Qwen2.5, per token)
      let coin = rng() * z;
      let last = 0;
      for (let i = 0; i < V; i++) {
        if (p[i] === 0) continue;
        coin -= p[i];
        last = i;
        if (coin <= 0) return i;
      }
      return last;
    }
    // candidates, most likely first; run.c's trick: tokens below (1 − p)/(V − 1) can never be in the nucleus
    const cutoff = topP < 1 ? ((1 - topP) / (V - 1)) * z : 0;
    let order: number[] = [];
    for (let i = 0; i < V; i++) if (p[i] >= cutoff) order.push(i);
    order.sort((a, b) => p[b] - p[a]);
    if (topK > 0) order = order.slice(0, topK);
    // nucleus: the shortest prefix whose share of the total mass reaches topP
    let n = order.length;
    if (topP < 1) {
      let acc = 0;
      for (let i = 0; i < order.length; i++) {
        acc += p[order[i]];
        if (acc >= topP * z) {
          n = i + 1;
          break;
        }
      }
    }
    let mass = 0;
    for (let i = 0; i < n; i++) mass += p[order[i]];
    let coin = rng() * mass;
    for (let i = 0; i < n; i++) {
      coin -= p[order[i]];
      if (coin <= 0) return order[i];
    }
    return order[n - 1];
  };
}
