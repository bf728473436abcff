// Byte-level BPE training (Sennrich et al. 2016; GPT-2's byte-level variant): count pre-tokenized words, then
// repeatedly merge the most frequent adjacent pair, updating pair counts only in the words that contain it
// (the incremental scheme of HF tokenizers' BpeTrainer, read, not copied).

import { check } from '../util/errors.js';
import { AddedTokens } from './added-tokens.js';
import { byteToChar, splitGpt2 } from './byte-level.js';
import { HfTokenizer } from './hf-tokenizer.js';
import { byteLevelBpeJson } from './hf-tokenizer-json-writer.js';
import { readTokenizerConfig } from './tokenizer-config.js';

/** Options of `trainBpe`. */
export interface TrainBpeOptions {
  /** Target number of ids: special tokens + 256 byte pieces + merges. Must be ≥ specials + 256. */
  vocabSize: number;
  /** A pair is merged only if it occurs at least this often (counted over the corpus). Default 2. */
  minFrequency?: number;
  /** Atomic tokens, given ids 0, 1, … in order; never split or merged. Default `['<pad>', '<s>', '</s>']`. */
  specialTokens?: readonly string[];
  /** BOS piece; must be one of the special tokens. Default `'<s>'`. */
  bosToken?: string;
  /** EOS piece; must be one of the special tokens. Default `'</s>'`. */
  eosToken?: string;
  /** Progress: every 1000 texts while counting, every 100 merges, and once when done. */
  onProgress?: (progress: BpeTrainProgress) => void;
}

/** One progress report of `trainBpe`. */
export interface BpeTrainProgress {
  stage: 'count' | 'merge' | 'done';
  /** Texts read (count) or merges made (merge, done). */
  done: number;
  /** Merges wanted (merge, done): vocabSize − specials − 256. */
  total?: number;
  /** Distinct pre-tokenized words so far. */
  words: number;
  /** How often the last merged pair occurred (merge, done). */
  frequency?: number;
}

const DEFAULT_SPECIAL_TOKENS = ['<pad>', '<s>', '</s>'];
const utf8 = new TextEncoder();

/**
 * Trains a byte-level BPE tokenizer (GPT-2 pre-tokenizer, no prefix space) on `texts`. The result is the
 * tokenizer.json `byteLevelBpeJson` writes, loaded by HfTokenizer (BOS from its template, EOS named in its config),
 * so the tokenizer trained is the one saved and loaded back.
 *
 * Ids: special tokens 0..k-1, then byte b at k + b, then one id per merge in merge order. Each step merges the
 * most frequent pair; ties go to the pair with the smaller left id, then the smaller right id, so the result
 * depends only on the word counts (not on text order or hash order). A merge whose piece already exists (two
 * pairs spelling the same bytes) reuses that id, as HF's trainer does. Stops at `vocabSize` ids or when no
 * pair occurs `minFrequency` times.
 */
export async function trainBpe(
  texts: Iterable<string> | AsyncIterable<string>,
  options: TrainBpeOptions,
): Promise<HfTokenizer> {
  const { vocabSize, minFrequency = 2, specialTokens = DEFAULT_SPECIAL_TOKENS, onProgress } = options;
  const { bosToken = '<s>', eosToken = '</s>' } = options;
  checkOptions(vocabSize, minFrequency, specialTokens, bosToken, eosToken);
  const counts = await countWords(texts, specialTokens, onProgress);
  const k = specialTokens.length;
  const pieces = [...specialTokens, ...Array.from({ length: 256 }, (_, b) => byteToChar(b))];
  const merges = new Merger(counts, k, vocabSize).run(pieces, minFrequency, (done, frequency) =>
    onProgress?.({ stage: 'merge', done, total: vocabSize - k - 256, words: counts.size, frequency }),
  );
  onProgress?.({ stage: 'done', done: merges.length, total: vocabSize - k - 256, words: counts.size });
  const json = byteLevelBpeJson({ vocab: pieces, merges, specialTokens, bosToken });
  const config = { tokenizer_class: 'PreTrainedTokenizerFast', bos_token: bosToken, eos_token: eosToken };
  return new HfTokenizer(json, { config: readTokenizerConfig(config, 'trainBpe'), source: 'trainBpe' });
}

function checkOptions(
  vocabSize: number,
  minFrequency: number,
  specials: readonly string[],
  bos: string,
  eos: string,
): void {
  const k = specials.length;
  check(
    Number.isInteger(vocabSize) && vocabSize >= k + 256,
    'vocabSize',
    vocabSize,
    `an integer ≥ ${k + 256}`,
  );
  check(Number.isInteger(minFrequency) && minFrequency >= 1, 'minFrequency', minFrequency, 'an integer ≥ 1');
  const bytes = new Set(Array.from({ length: 256 }, (_, b) => byteToChar(b)));
  for (const s of specials) {
    check(
      typeof s === 'string' && s !== '' && !bytes.has(s),
      'specialTokens',
      s,
      'a string of ≥ 2 characters',
    );
  }
  check(new Set(specials).size === k, 'specialTokens', specials, 'distinct strings');
  check(specials.includes(bos), 'bosToken', bos, `one of specialTokens ${JSON.stringify(specials)}`);
  check(specials.includes(eos), 'eosToken', eos, `one of specialTokens ${JSON.stringify(specials)}`);
}

/** Pre-tokenized word → occurrences, skipping the special tokens (they are cut out first). */
async function countWords(
  texts: Iterable<string> | AsyncIterable<string>,
  specials: readonly string[],
  onProgress: TrainBpeOptions['onProgress'],
): Promise<Map<string, number>> {
  const added = new AddedTokens();
  specials.forEach((s, id) => {
    added.set(s, id);
  });
  const counts = new Map<string, number>();
  let n = 0;
  for await (const text of texts) {
    check(typeof text === 'string', `texts[${n}]`, text, 'a string');
    const parts = added.split(text);
    for (let i = 0; i < parts.length; i += 2) {
      for (const word of splitGpt2(parts[i])) counts.set(word, (counts.get(word) ?? 0) + 1);
    }
    if (++n % 1000 === 0) onProgress?.({ stage: 'count', done: n, words: counts.size });
  }
  onProgress?.({ stage: 'count', done: n, words: counts.size });
  return counts;
}

/**
 * The merge loop. Pair keys are `left * vocabSize + right`, so a smaller key is the smaller (left, right).
 * `where` lists the words each pair was ever seen in (stale entries are harmless: rescanning finds nothing).
 * The heap may hold outdated counts: an entry is trusted only when its count equals the live one.
 */
class Merger {
  private readonly words: number[][] = [];
  private readonly freq: number[] = [];
  private readonly pairCount = new Map<number, number>();
  private readonly where = new Map<number, number[]>();
  private readonly heap = new PairHeap();
  private readonly raised = new Set<number>();

  constructor(
    counts: ReadonlyMap<string, number>,
    offset: number,
    private readonly vocabSize: number,
  ) {
    for (const [word, c] of counts) {
      const w = this.words.length;
      const symbols = Array.from(utf8.encode(word), (b) => offset + b);
      this.words.push(symbols);
      this.freq.push(c);
      for (let i = 0; i + 1 < symbols.length; i++) this.add(symbols[i], symbols[i + 1], c, w);
    }
    for (const [key, c] of this.pairCount) this.heap.push(c, key);
    this.raised.clear();
  }

  /** Merges until `pieces` has vocabSize entries; appends new pieces and returns the merges made. */
  run(
    pieces: string[],
    minFrequency: number,
    report: (done: number, frequency: number) => void,
  ): [string, string][] {
    const merges: [string, string][] = [];
    const ids = new Map(pieces.map((p, id) => [p, id]));
    let frequency = 0;
    while (pieces.length < this.vocabSize && this.heap.size > 0) {
      const { count, key } = this.heap.pop();
      const live = this.pairCount.get(key) ?? 0;
      if (count !== live) {
        if (count > live && live > 0) this.heap.push(live, key);
        continue;
      }
      if (live < minFrequency) break;
      const a = Math.floor(key / this.vocabSize);
      const b = key - a * this.vocabSize;
      const piece = pieces[a] + pieces[b];
      let z = ids.get(piece);
      if (z === undefined) {
        z = pieces.length;
        pieces.push(piece);
        ids.set(piece, z);
      }
      merges.push([pieces[a], pieces[b]]);
      this.apply(a, b, z, key);
      frequency = live;
      if (merges.length % 100 === 0) report(merges.length, frequency);
    }
    report(merges.length, frequency);
    return merges;
  }

  /** Replaces every (a, b) by z in the words that have it, left to right, updating the counts around each. */
  private apply(a: number, b: number, z: number, key: number): void {
    for (const w of this.where.get(key) ?? []) {
      const s = this.words[w];
      const c = this.freq[w];
      const out: number[] = [];
      for (let i = 0; i < s.length; i++) {
        if (s[i] !== a || s[i + 1] !== b) {
          out.push(s[i]);
          continue;
        }
        const prev = out.length > 0 ? out[out.length - 1] : -1;
        const next = i + 2 < s.length ? s[i + 2] : -1;
        this.add(a, b, -c, w);
        if (prev >= 0) {
          this.add(prev, a, -c, w);
          this.add(prev, z, c, w);
        }
        if (next >= 0) {
          this.add(b, next, -c, w);
          this.add(z, next, c, w);
        }
        out.push(z);
        i++;
      }
      this.words[w] = out;
    }
    this.where.delete(key);
    for (const k of this.raised) {
      const c = this.pairCount.get(k);
      if (c !== undefined) this.heap.push(c, k); // raised, then lowered to 0 later in the same step: gone
    }
    this.raised.clear();
  }

  private add(left: number, right: number, delta: number, word: number): void {
    const key = left * this.vocabSize + right;
    const c = (this.pairCount.get(key) ?? 0) + delta;
    if (c === 0) this.pairCount.delete(key);
    else this.pairCount.set(key, c);
    if (delta <= 0) return;
    this.raised.add(key);
    const list = this.where.get(key);
    if (!list) this.where.set(key, [word]);
    else if (list[list.length - 1] !== word) list.push(word);
  }
}

/** Binary max-heap of (count, key): higher count first, then smaller key. */
class PairHeap {
  private readonly counts: number[] = [];
  private readonly keys: number[] = [];

  get size(): number {
    return this.counts.length;
  }

  push(count: number, key: number): void {
    let i = this.counts.length;
    this.counts.push(count);
    this.keys.push(key);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!first(count, key, this.counts[parent], this.keys[parent])) break;
      this.move(parent, i);
      i = parent;
    }
    this.counts[i] = count;
    this.keys[i] = key;
  }

  pop(): { count: number; key: number } {
    const top = { count: this.counts[0], key: this.keys[0] };
    const count = this.counts.pop()!;
    const key = this.keys.pop()!;
    const n = this.counts.length;
    if (n === 0) return top;
    const { counts: c, keys: k } = this;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const child = l + 1 < n && first(c[l + 1], k[l + 1], c[l], k[l]) ? l + 1 : l;
      if (!first(c[child], k[child], count, key)) break;
      this.move(child, i);
      i = child;
    }
    c[i] = count;
    k[i] = key;
    return top;
  }

  private move(from: number, to: number): void {
    this.counts[to] = this.counts[from];
    this.keys[to] = this.keys[from];
  }
}

/** Heap order: (count1, key1) before (count2, key2). */
function first(count1: number, key1: number, count2: number, key2: number): boolean {
  return count1 > count2 || (count1 === count2 && key1 < key2);
}
