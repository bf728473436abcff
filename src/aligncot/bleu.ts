// BLEU (Papineni et al. 2002) for single sentences, and Self-BLEU (Zhu et al. 2018, Texygen) as a diversity
// figure: the mean BLEU of each text against all the others. Follows NLTK `sentence_bleu`: uniform weights,
// clipped n-gram precisions, brevity penalty against the closest reference length (ties: the shorter),
// BLEU 0 when no unigram matches; Texygen's Self-BLEU uses NLTK's smoothing method1 (ε = 0.1 added to the
// numerator of a zero precision), the default here.

/** Lower-cased words and single punctuation marks: "Don't!" → ["don", "'", "t", "!"]. */
export function bleuTokens(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}_]+|[^\s\p{L}\p{N}_]/gu) ?? [];
}

export interface BleuOptions {
  /** Largest n-gram order. Default 4. */
  maxN?: number;
  /** 'epsilon': a zero precision becomes ε / count (NLTK method1); 'none': it makes BLEU 0. Default 'epsilon'. */
  smoothing?: 'epsilon' | 'none';
  /** Default 0.1. */
  epsilon?: number;
}

/** BLEU of one tokenized hypothesis against tokenized references, in [0, 1]. */
export function sentenceBleu(
  references: readonly (readonly string[])[],
  hypothesis: readonly string[],
  options: BleuOptions = {},
): number {
  return bleuWithClip(
    maxRefCounts(references, options.maxN ?? 4),
    refLengths(references),
    hypothesis,
    options,
  );
}

/**
 * Self-BLEU: the mean over i of BLEU(texts[i] against every other text). Higher means less diverse (1 for
 * identical texts). Needs at least two texts. O(k²·length) for k texts: sample large sets first.
 */
export function selfBleu(texts: readonly (readonly string[])[], options: BleuOptions = {}): number {
  if (texts.length < 2) throw new RangeError(`selfBleu: expected at least 2 texts, got ${texts.length}`);
  let sum = 0;
  texts.forEach((hyp, i) => {
    const refs = texts.filter((_, j) => j !== i);
    sum += sentenceBleu(refs, hyp, options);
  });
  return sum / texts.length;
}

// ---------------------------------------------------------------------------------------------------
// helpers

function ngrams(tokens: readonly string[], n: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i + n <= tokens.length; i++) {
    const key = tokens.slice(i, i + n).join('\u0000');
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/** For each order n, the most times each n-gram occurs in any one reference (the clip counts). */
function maxRefCounts(references: readonly (readonly string[])[], maxN: number): Map<string, number>[] {
  const clip: Map<string, number>[] = [];
  for (let n = 1; n <= maxN; n++) {
    const m = new Map<string, number>();
    for (const ref of references) for (const [g, c] of ngrams(ref, n)) m.set(g, Math.max(m.get(g) ?? 0, c));
    clip.push(m);
  }
  return clip;
}

function refLengths(references: readonly (readonly string[])[]): number[] {
  return references.map((r) => r.length);
}

function bleuWithClip(
  clip: Map<string, number>[],
  lengths: number[],
  hyp: readonly string[],
  options: BleuOptions,
): number {
  const { smoothing = 'epsilon', epsilon = 0.1 } = options;
  const maxN = clip.length;
  let logSum = 0;
  for (let n = 1; n <= maxN; n++) {
    let matched = 0;
    let total = 0;
    for (const [g, c] of ngrams(hyp, n)) {
      matched += Math.min(c, clip[n - 1].get(g) ?? 0);
      total += c;
    }
    if (n === 1 && matched === 0) return 0;
    if (matched === 0 && smoothing === 'none') return 0;
    const p = matched === 0 ? epsilon / Math.max(1, total) : matched / total;
    logSum += Math.log(p) / maxN;
  }
  return brevityPenalty(lengths, hyp.length) * Math.exp(logSum);
}

/** exp(1 − r/c) when the hypothesis (length c) is shorter than the closest reference length r, else 1. */
function brevityPenalty(lengths: number[], c: number): number {
  const r = lengths.reduce((best, len) => {
    const d = Math.abs(len - c) - Math.abs(best - c);
    return d < 0 || (d === 0 && len < best) ? len : best;
  });
  return c >= r ? 1 : Math.exp(1 - r / c);
}
