// llama2.c's SentencePiece-BPE tokenizer (tokenizer.bin, tok512.bin) with run.c's encode()/decode() semantics,
// plus added special tokens. Spec: karpathy/llama2.c run.c `encode`, `decode` (read, not copied).

import { check, FormatError } from '../util/errors.js';
import { AddedTokens } from './added-tokens.js';
import { mergeByScore } from './bpe.js';
import { BYTE_TOKEN_OFFSET, type Llama2cVocab, readLlama2cVocab } from './llama2c-format.js';
import type { EncodeOptions, StreamDecoder, Tokenizer } from './tokenizer.js';

const BOS_ID = 1;
const EOS_ID = 2;
/** run.c starts the best merge score at -1e10 and wants a strictly greater one: lower scores never merge. */
const MERGE_SCORE_FLOOR = -1e10;
const EMPTY = new Uint8Array(0);
const utf8 = new TextEncoder();

/**
 * The serialisable part of a Llama2cTokenizer that is not in tokenizer.bin: the added special tokens.
 * A checkpoint stores this next to the path of the .bin file; `restoreSpecialTokens` re-applies it.
 */
export interface Llama2cTokenizerJSON {
  format: 'llama2c';
  /** Number of ids in the .bin file; restoring onto a different file is an error. */
  baseVocabSize: number;
  /** Added special tokens with their ids, in the order they were added. */
  specialTokens: { piece: string; id: number }[];
}

/**
 * A llama2.c tokenizer. `encode` gives exactly run.c's ids for any text without added special tokens
 * (BOS, dummy-prefix space, codepoint lookup with byte fallback, highest-score-first merges, EOS).
 * Two cases run.c cannot express are defined here: a NUL character is encoded like any other codepoint
 * (byte fallback `<0x00>`), and a vocabulary without a " " piece takes the dummy prefix as byte `<0x20>`.
 */
export class Llama2cTokenizer implements Tokenizer {
  readonly bosId = BOS_ID;
  readonly eosId = EOS_ID;
  /** Ids in the .bin file (added special tokens come after). */
  readonly baseVocabSize: number;
  /** The file header's max_token_length. */
  readonly maxTokenLength: number;
  /** Pieces as stored (raw bytes), by id. */
  private readonly raw: Uint8Array[];
  /** Pieces as binary strings (one char per byte), so lookups compare bytes like run.c's strcmp. */
  private readonly binary: string[];
  private readonly scores: Float32Array;
  /** Binary piece → id (no duplicates in the shipped files; a later duplicate would win). */
  private readonly ids: Map<string, number>;
  /** The bytes each base id decodes to (`<0xNN>` → the byte). */
  private readonly output: Uint8Array[];
  private readonly added = new AddedTokens();
  /** UTF-8 of each appended special token, by id − baseVocabSize. */
  private readonly addedBytes: Uint8Array[] = [];
  private readonly dummyPrefix: number[];

  private constructor(vocab: Llama2cVocab) {
    this.baseVocabSize = vocab.pieces.length;
    this.maxTokenLength = vocab.maxTokenLength;
    this.raw = vocab.pieces;
    this.scores = vocab.scores;
    this.binary = vocab.pieces.map(toBinary);
    this.ids = new Map(this.binary.map((piece, id) => [piece, id]));
    this.output = vocab.pieces.map((piece, id) =>
      isByteToken(id) ? Uint8Array.of(id - BYTE_TOKEN_OFFSET) : piece,
    );
    this.dummyPrefix = [this.ids.get(' ') ?? 0x20 + BYTE_TOKEN_OFFSET];
  }

  /** Parses a tokenizer.bin image (see `readLlama2cVocab`); `name` is used in error messages. */
  static fromBuffer(bytes: Uint8Array, vocabSize?: number, name = 'tokenizer.bin buffer'): Llama2cTokenizer {
    return new Llama2cTokenizer(readLlama2cVocab(bytes, name, vocabSize));
  }

  get vocabSize(): number {
    return this.baseVocabSize + this.addedBytes.length;
  }

  get specialTokens(): ReadonlyMap<string, number> {
    return this.added.map;
  }

  // -------------------------------------------------------------------------------------------------
  // encode

  /**
   * Text → ids. Added special tokens are cut out first (longest match) and become single ids; the text
   * between them is encoded run.c-style, one merge run per stretch. The dummy-prefix space is added once,
   * before the first stretch, when the text is non-empty and does not start with a special token.
   */
  encode(text: string, options: EncodeOptions = {}): number[] {
    const { bos = true, eos = false } = options;
    const parts = this.added.split(text);
    const out: number[] = [];
    let run: number[] = bos ? [BOS_ID] : [];
    if (parts[0] !== '') run.push(...this.dummyPrefix);
    for (let i = 0; i < parts.length; i++) {
      if (i % 2 === 0) {
        this.pushCodepoints(parts[i], run);
        continue;
      }
      append(out, this.merge(run)); // a special token ends the merge run
      run = [];
      out.push(this.added.get(parts[i])!);
    }
    append(out, this.merge(run));
    if (eos) out.push(EOS_ID);
    return out;
  }

  /** run.c's codepoint step: each lead byte plus ≤ 3 continuation bytes is looked up whole, else byte fallback. */
  private pushCodepoints(text: string, run: number[]): void {
    const bytes = utf8.encode(text);
    let start = 0;
    while (start < bytes.length) {
      let end = start + 1;
      while (end < bytes.length && (bytes[end] & 0xc0) === 0x80 && end - start < 4) end++;
      const group = bytes.subarray(start, end);
      const id = this.ids.get(toBinary(group));
      if (id !== undefined) run.push(id);
      else for (const b of group) run.push(b + BYTE_TOKEN_OFFSET);
      start = end;
    }
  }

  private merge(run: number[]): number[] {
    return mergeByScore(run, this.mergeLookup, this.scores);
  }

  /** The id of the concatenation of two pieces, if it is in the .bin vocabulary with a mergeable score. */
  private readonly mergeLookup = (left: number, right: number): number => {
    const id = this.ids.get(this.binary[left] + this.binary[right]);
    return id !== undefined && this.scores[id] > MERGE_SCORE_FLOOR ? id : -1;
  };

  // -------------------------------------------------------------------------------------------------
  // decode

  /**
   * Ids → text, run.c `decode(prev, token)` over the sequence: a leading space is dropped after BOS and
   * `<0xNN>` becomes the raw byte; the bytes are read as UTF-8 (invalid sequences become U+FFFD).
   * BOS and EOS are control tokens and render as nothing; special tokens render verbatim.
   */
  decode(ids: readonly number[]): string {
    const chunks: Uint8Array[] = [];
    let prev = -1;
    for (const id of ids) {
      chunks.push(this.bytesOf(prev, id));
      prev = id;
    }
    return newDecoder().decode(concat(chunks));
  }

  /** A streaming decoder; `prevId` is the id before the first one pushed (e.g. the prompt's last id). */
  streamDecoder(prevId = -1): StreamDecoder {
    const decoder = newDecoder();
    let prev = prevId;
    return {
      push: (id) => {
        const text = decoder.decode(this.bytesOf(prev, id), { stream: true });
        prev = id;
        return text;
      },
      flush: () => decoder.decode(),
    };
  }

  private bytesOf(prev: number, id: number): Uint8Array {
    this.checkId(id);
    if (id === BOS_ID || id === EOS_ID) return EMPTY;
    if (id >= this.baseVocabSize) return this.addedBytes[id - this.baseVocabSize];
    const bytes = this.output[id];
    // run.c strips before parsing `<0xNN>`, so a byte token (piece starts with '<') is never stripped
    return prev === BOS_ID && !isByteToken(id) && bytes[0] === 0x20 ? bytes.subarray(1) : bytes;
  }

  // -------------------------------------------------------------------------------------------------
  // pieces and special tokens

  /** The piece of `id` as stored, read as UTF-8: `" the"` (llama2.c stores `▁` as a space), `<0x0A>`, `<|analysis|>`. */
  idToPiece(id: number): string {
    this.checkId(id);
    if (id >= this.baseVocabSize) return newDecoder().decode(this.addedBytes[id - this.baseVocabSize]);
    return newDecoder().decode(this.raw[id]);
  }

  pieceToId(piece: string): number | undefined {
    return this.added.get(piece) ?? this.ids.get(toBinary(utf8.encode(piece)));
  }

  /**
   * Adds atomic special tokens; new ones get ids vocabSize, vocabSize+1, … in order. A token already added
   * keeps its id, and a token equal to a piece of the .bin file becomes special with that piece's id.
   */
  addSpecialTokens(tokens: readonly string[]): number[] {
    return tokens.map((token) => {
      check(typeof token === 'string' && token.length > 0, 'specialTokens', token, 'a non-empty string');
      const known = this.added.get(token);
      if (known !== undefined) return known;
      const bytes = utf8.encode(token);
      const id = this.ids.get(toBinary(bytes)) ?? this.vocabSize;
      if (id === this.vocabSize) this.addedBytes.push(bytes);
      this.added.set(token, id);
      return id;
    });
  }

  /** The added special tokens, for a checkpoint (the .bin file itself is not included). */
  toJSON(): Llama2cTokenizerJSON {
    const specialTokens = [...this.added.map].map(([piece, id]) => ({ piece, id }));
    return { format: 'llama2c', baseVocabSize: this.baseVocabSize, specialTokens };
  }

  /**
   * Re-adds the special tokens saved by `toJSON`, checking that each gets its saved id. `source` names the
   * state (e.g. the checkpoint file) in errors. Returns this tokenizer.
   */
  restoreSpecialTokens(state: unknown, source = 'tokenizer state'): this {
    const s = state as Partial<Llama2cTokenizerJSON> | null;
    if (s?.format !== 'llama2c') {
      throw new FormatError(source, 'format', `got ${JSON.stringify(s?.format)}; expected "llama2c"`);
    }
    if (s.baseVocabSize !== this.baseVocabSize) {
      throw new FormatError(
        source,
        'baseVocabSize',
        `got ${s.baseVocabSize}; expected ${this.baseVocabSize} (the loaded tokenizer.bin)`,
      );
    }
    if (!Array.isArray(s.specialTokens)) {
      throw new FormatError(
        source,
        'specialTokens',
        `got ${JSON.stringify(s.specialTokens)}; expected an array`,
      );
    }
    s.specialTokens.forEach((entry, i) => {
      const where = `specialTokens[${i}]`;
      if (typeof entry?.piece !== 'string' || entry.piece === '' || !Number.isInteger(entry.id)) {
        throw new FormatError(
          source,
          where,
          `got ${JSON.stringify(entry)}; expected { piece: non-empty string, id: integer }`,
        );
      }
      const id = this.addSpecialTokens([entry.piece])[0];
      if (id !== entry.id) {
        throw new FormatError(
          source,
          where,
          `${JSON.stringify(entry.piece)} got id ${id}; expected ${entry.id}`,
        );
      }
    });
    return this;
  }

  private checkId(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      throw new RangeError(`token id ${id} is out of range; expected an integer in [0, ${this.vocabSize})`);
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// helpers

function isByteToken(id: number): boolean {
  return id >= BYTE_TOKEN_OFFSET && id < BYTE_TOKEN_OFFSET + 256;
}

/** Bytes → a string with one char (0..255) per byte, comparable byte-for-byte. */
function toBinary(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return s;
}

/** UTF-8 decoder that keeps a leading U+FEFF (the default decoder would swallow it). */
function newDecoder(): InstanceType<typeof TextDecoder> {
  return new TextDecoder('utf-8', { ignoreBOM: true });
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/** `out.push(...items)` without the argument-count limit of spread. */
function append(out: number[], items: readonly number[]): void {
  for (const x of items) out.push(x);
}
