// Reader for llama2.c's tokenizer.bin (the current format, as read by run.c `build_tokenizer`):
//   int32 max_token_length, then vocab_size × (float32 score, int32 len, len bytes of UTF-8), little-endian.
// The vocab size is not stored; it is given by the caller or found by reading to the end of the file.

import { check, FormatError } from '../util/errors.js';

/** Ids 0, 1, 2 are `<unk>`, BOS and EOS; ids 3..258 are the byte-fallback tokens `<0x00>`..`<0xFF>`. */
export const BYTE_TOKEN_OFFSET = 3;
/** The smallest vocabulary that has every byte-fallback token. */
export const MIN_VOCAB_SIZE = BYTE_TOKEN_OFFSET + 256;

/** The contents of a tokenizer.bin file. */
export interface Llama2cVocab {
  /** The header's max_token_length (bytes of the longest piece, as written by llama2.c's exporter). */
  maxTokenLength: number;
  /** Raw bytes of each piece, by id. SentencePiece's `▁` is stored as a plain space. */
  pieces: Uint8Array[];
  /** The SentencePiece score of each piece, by id: higher merges first. */
  scores: Float32Array;
}

/**
 * Parses a tokenizer.bin image. `file` names it in errors. With `vocabSize`, the file must hold exactly
 * that many tokens; without, tokens are read to the end of the file (so a file cut exactly between two
 * records goes unnoticed: pass the size when it is known). Either way a record cut short, a negative
 * length, or byte tokens 3..258 not spelled `<0xNN>` is a FormatError naming the byte offset.
 */
export function readLlama2cVocab(bytes: Uint8Array, file: string, vocabSize?: number): Llama2cVocab {
  if (vocabSize !== undefined) {
    check(
      Number.isInteger(vocabSize) && vocabSize >= MIN_VOCAB_SIZE,
      'vocabSize',
      vocabSize,
      `an integer ≥ ${MIN_VOCAB_SIZE}`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const total = bytes.byteLength;
  const expecting =
    vocabSize === undefined
      ? 'expected whole records to the end of the file'
      : `expected ${vocabSize} tokens`;
  if (total < 4) {
    throw new FormatError(
      file,
      'byte 0',
      `file has ${total} bytes; expected an int32 max_token_length header`,
    );
  }
  const maxTokenLength = view.getInt32(0, true);
  if (maxTokenLength < 0) {
    throw new FormatError(file, 'byte 0', `max_token_length = ${maxTokenLength}; expected ≥ 0`);
  }

  const pieces: Uint8Array[] = [];
  const scores: number[] = [];
  const offsets: number[] = [];
  let off = 4;
  while (vocabSize === undefined ? off < total : pieces.length < vocabSize) {
    const id = pieces.length;
    if (off + 8 > total) {
      throw new FormatError(
        file,
        `byte ${off}`,
        `file ends (${total} bytes) before token ${id}'s 8-byte header is complete; ${expecting}`,
      );
    }
    const len = view.getInt32(off + 4, true);
    if (len < 0)
      throw new FormatError(file, `byte ${off + 4}`, `token ${id} has length ${len}; expected ≥ 0`);
    if (off + 8 + len > total) {
      throw new FormatError(
        file,
        `byte ${off + 8}`,
        `token ${id} needs ${len} bytes but the file ends after ${total - off - 8}; ${expecting}`,
      );
    }
    offsets.push(off);
    scores.push(view.getFloat32(off, true));
    pieces.push(bytes.slice(off + 8, off + 8 + len));
    off += 8 + len;
  }
  if (off < total) {
    throw new FormatError(
      file,
      `byte ${off}`,
      `${total - off} trailing bytes after token ${pieces.length - 1}; expected the file to end after ${vocabSize} tokens (is the vocab size right?)`,
    );
  }
  if (pieces.length < MIN_VOCAB_SIZE) {
    throw new FormatError(
      file,
      `byte ${off}`,
      `file holds ${pieces.length} tokens; expected at least ${MIN_VOCAB_SIZE}`,
    );
  }
  checkByteTokens(pieces, offsets, file);
  return { maxTokenLength, pieces, scores: Float32Array.from(scores) };
}

/** The piece llama2.c's exporter writes for byte `b`: `<0x0A>` for 10. */
export function byteTokenPiece(b: number): string {
  return `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;
}

/** Older tokenizer.bin files stored raw bytes instead of `<0xNN>`; current run.c (and this reader) needs the latter. */
function checkByteTokens(pieces: Uint8Array[], offsets: number[], file: string): void {
  const decoder = new TextDecoder();
  for (let b = 0; b < 256; b++) {
    const id = BYTE_TOKEN_OFFSET + b;
    const got = decoder.decode(pieces[id]);
    if (got !== byteTokenPiece(b)) {
      throw new FormatError(
        file,
        `byte ${offsets[id]}`,
        `token ${id} is ${JSON.stringify(got)}; expected "${byteTokenPiece(b)}" (byte-fallback tokens of the current llama2.c format)`,
      );
    }
  }
}
