// The BPE model of HF tokenizers (model.type "BPE"): a vocabulary, merges ranked by their order, and what to do
// with a character outside the vocabulary (byte fallback `<0xNN>`, or an unknown token). One "word" (a piece of
// pre-tokenized text) in, ids out. Spec: huggingface/tokenizers `models/bpe/{model,word}.rs` (read, not copied).

import { FormatError } from '../util/errors.js';
import { mergeByScore } from './bpe.js';
import { byteTokenPiece } from './llama2c-format.js';

/** The model part of a BPE tokenizer, as stored in tokenizer.json's `model` (ids dense from 0). */
export interface BpeModelSpec {
  /** The piece of each id, 0..n-1. */
  vocab: readonly string[];
  /** Merge rules, highest priority first: `[left, right]` becomes the piece `left + right`. */
  merges: readonly (readonly [string, string])[];
  /** Piece used for characters that are not in the vocabulary (and not byte-fallback-able). Default none. */
  unkToken?: string | null;
  /** Consecutive unknown characters become one unknown id. Default false. */
  fuseUnk?: boolean;
  /** A character outside the vocabulary becomes its UTF-8 bytes as `<0xNN>` pieces. Default false. */
  byteFallback?: boolean;
  /** A word that is itself a vocabulary piece is taken whole, without merging. Default false. */
  ignoreMerges?: boolean;
}

/** Words longer than this (UTF-16 units) are not cached. */
const CACHE_MAX_WORD = 256;
const CACHE_SIZE = 50_000;
const utf8 = new TextEncoder();

/**
 * A BPE model. `encodeWord` splits a word into characters, maps each to an id (byte fallback or unknown if
 * absent), then applies merges lowest rank first, the leftmost occurrence first among equals, like HF's
 * `Word::merge_all`.
 */
export class BpeModel {
  /** Number of ids in the vocabulary. */
  readonly size: number;
  private readonly ids = new Map<string, number>();
  /** Rank of each merge, keyed by `left * size + right`. */
  private readonly pairRank = new Map<number, number>();
  /** Id produced by the merge of each rank. */
  private readonly mergedId: Int32Array;
  /**
   * mergeByScore wants the priority as a score of the merged id, but a rank belongs to a pair (two pairs can
   * make the same piece). So merges produce virtual ids `size + rank` with score `-rank`, mapped back at the end.
   */
  private readonly virtualScore: Float64Array;
  private readonly byteIds: Int32Array | undefined;
  private readonly unkId: number;
  private readonly cache = new Map<string, readonly number[]>();

  /** Builds the model; `source` names the file in errors, whose fields are named as in tokenizer.json. */
  constructor(
    readonly spec: Readonly<BpeModelSpec>,
    source = 'BPE model',
  ) {
    const { vocab, merges } = spec;
    this.size = vocab.length;
    vocab.forEach((piece, id) => {
      const seen = this.ids.get(piece);
      if (seen !== undefined) {
        throw new FormatError(
          source,
          'model.vocab',
          `piece ${JSON.stringify(piece)} has ids ${seen} and ${id}`,
        );
      }
      this.ids.set(piece, id);
    });
    this.mergedId = new Int32Array(merges.length);
    this.virtualScore = new Float64Array(this.size + merges.length);
    merges.forEach(([left, right], rank) => {
      const a = this.ids.get(left);
      const b = this.ids.get(right);
      const ab = this.ids.get(left + right);
      const missing =
        a === undefined ? left : b === undefined ? right : ab === undefined ? left + right : null;
      if (missing !== null) {
        throw new FormatError(
          source,
          `model.merges[${rank}]`,
          `merge ${JSON.stringify([left, right])} needs piece ${JSON.stringify(missing)}, which is not in model.vocab`,
        );
      }
      const key = a! * this.size + b!;
      if (!this.pairRank.has(key)) this.pairRank.set(key, rank); // a repeated merge keeps its first rank
      this.mergedId[rank] = ab!;
      this.virtualScore[this.size + rank] = -rank;
    });
    this.byteIds = spec.byteFallback ? this.findByteIds() : undefined;
    const unk = spec.unkToken ?? null;
    this.unkId = unk === null ? -1 : (this.ids.get(unk) ?? -1);
    if (unk !== null && this.unkId < 0) {
      throw new FormatError(source, 'model.unk_token', `${JSON.stringify(unk)} is not in model.vocab`);
    }
  }

  /** The id of a vocabulary piece, or undefined. */
  pieceToId(piece: string): number | undefined {
    return this.ids.get(piece);
  }

  /** Word → ids. The result may be shared with the cache: do not mutate it. */
  encodeWord(word: string): readonly number[] {
    if (word === '') return [];
    const cached = this.cache.get(word);
    if (cached) return cached;
    const whole = this.spec.ignoreMerges ? this.ids.get(word) : undefined;
    const ids =
      whole !== undefined
        ? [whole]
        : mergeByScore(this.symbols(word), this.lookup, this.virtualScore).map(this.real);
    if (word.length <= CACHE_MAX_WORD) {
      if (this.cache.size >= CACHE_SIZE) this.cache.clear();
      this.cache.set(word, ids);
    }
    return ids;
  }

  /** The initial symbols of a word: one id per character, byte-fallback ids, or (fused) unknown ids. */
  private symbols(word: string): number[] {
    const out: number[] = [];
    let pendingUnk = false;
    for (const char of word) {
      const id = this.ids.get(char) ?? -1;
      const bytes = id < 0 ? this.fallbackIds(char) : undefined;
      if (id >= 0 || bytes) {
        if (id >= 0) out.push(id);
        else for (const b of bytes!) out.push(b);
        pendingUnk = false;
        continue;
      }
      if (this.unkId < 0) {
        throw new Error(
          `character ${JSON.stringify(char)} (U+${char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}) ` +
            'is not in the BPE vocabulary, and the model has neither byte_fallback nor an unk_token',
        );
      }
      if (!(pendingUnk && this.spec.fuseUnk)) out.push(this.unkId);
      pendingUnk = true;
    }
    return out;
  }

  /** The `<0xNN>` ids of a character's UTF-8 bytes, if byte fallback is on and all of them exist. */
  private fallbackIds(char: string): number[] | undefined {
    if (!this.byteIds) return undefined;
    const ids = [...utf8.encode(char)].map((b) => this.byteIds![b]);
    return ids.every((id) => id >= 0) ? ids : undefined;
  }

  private findByteIds(): Int32Array {
    const out = new Int32Array(256);
    for (let b = 0; b < 256; b++) out[b] = this.ids.get(byteTokenPiece(b)) ?? -1;
    return out;
  }

  private readonly real = (id: number): number => (id >= this.size ? this.mergedId[id - this.size] : id);

  private readonly lookup = (left: number, right: number): number => {
    const rank = this.pairRank.get(this.real(left) * this.size + this.real(right));
    return rank === undefined ? -1 : this.size + rank;
  };
}
