// The text stages around a BPE model, in the subset of HF tokenizers' components that byte-level (GPT-2) and
// SentencePiece-style (Llama) tokenizer.json files use: normalizer → pre-tokenizer → model → decoder.
// Spec: huggingface/tokenizers `normalizers/`, `pre_tokenizers/{byte_level,metaspace}.rs`, `decoders/`.

import { byteLevelToBytes, splitGpt2, textToByteLevel } from './byte-level.js';

/** One normalizer step, applied to each stretch of text between added tokens. */
export type NormalizerStep =
  | { type: 'NFC' | 'NFD' | 'NFKC' | 'NFKD' | 'Lowercase' }
  /** Prepends `prepend` to non-empty text (legacy Llama: `▁`). */
  | { type: 'Prepend'; prepend: string }
  /** Replaces every occurrence of the string `pattern` by `content` (legacy Llama: `' '` → `▁`). */
  | { type: 'Replace'; pattern: string; content: string };

/** How normalized text is cut into words for the model. */
export type PreTokenizerSpec =
  /** GPT-2: optional leading space, the GPT-2 split pattern, then bytes → byte-level characters. */
  | { type: 'ByteLevel'; addPrefixSpace: boolean; useRegex: boolean }
  /**
   * SentencePiece-style: spaces become `replacement`; the replacement is prepended (unless the text already
   * starts with it) to every stretch (`always`), to the stretch at the start of the text (`first`) or never;
   * with `split`, each word starts at a replacement character.
   */
  | { type: 'Metaspace'; replacement: string; prependScheme: 'always' | 'first' | 'never'; split: boolean };

/** How the piece of an id becomes bytes. */
export type DecoderSpec =
  /** Byte-level characters → bytes. */
  | { type: 'ByteLevel' }
  /**
   * Pieces as text: `replacement` (e.g. `▁`) becomes a space, `<0xNN>` becomes the byte when `byteFallback`,
   * and up to `stripLeadingSpaces` spaces are dropped from the start of the output.
   */
  | { type: 'Pieces'; replacement: string | null; byteFallback: boolean; stripLeadingSpaces: number };

const utf8 = new TextEncoder();

/** Applies normalizer steps in order. */
export function normalize(text: string, steps: readonly NormalizerStep[]): string {
  for (const step of steps) {
    switch (step.type) {
      case 'Prepend':
        if (text !== '') text = step.prepend + text;
        break;
      case 'Replace':
        text = text.replaceAll(step.pattern, step.content);
        break;
      case 'Lowercase':
        text = text.toLowerCase();
        break;
      default:
        text = text.normalize(step.type);
    }
  }
  return text;
}

/**
 * Normalized text → words in the model's alphabet. `atOrigin` says the text starts at offset 0 of the input
 * (for Metaspace's `first` scheme: not after an added token). Empty text gives no words.
 */
export function preTokenize(text: string, spec: PreTokenizerSpec | null, atOrigin: boolean): string[] {
  if (text === '') return [];
  if (spec === null) return [text];
  if (spec.type === 'ByteLevel') {
    if (spec.addPrefixSpace && !text.startsWith(' ')) text = ` ${text}`;
    const words = spec.useRegex ? splitGpt2(text) : [text];
    return words.map(textToByteLevel);
  }
  const r = spec.replacement;
  text = text.replaceAll(' ', r);
  const prepend = spec.prependScheme === 'always' || (spec.prependScheme === 'first' && atOrigin);
  if (prepend && !text.startsWith(r)) text = r + text;
  return spec.split ? splitBefore(text, r) : [text];
}

/** Cuts before every occurrence of `mark` (HF's MergedWithNext): `▁a▁▁b` → `▁a`, `▁`, `▁b`. */
function splitBefore(text: string, mark: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = text.indexOf(mark, 1); i >= 0; i = text.indexOf(mark, i + mark.length)) {
    if (i > start) out.push(text.slice(start, i));
    start = i;
  }
  out.push(text.slice(start));
  return out;
}

const BYTE_PIECE = /^<0x([0-9A-F]{2})>$/;

/** The bytes a model piece decodes to (added tokens are not model pieces: they render verbatim). */
export function pieceBytes(piece: string, spec: DecoderSpec): Uint8Array {
  if (spec.type === 'ByteLevel') return byteLevelToBytes(piece) ?? utf8.encode(piece);
  const byte = spec.byteFallback ? BYTE_PIECE.exec(piece) : null;
  if (byte) return Uint8Array.of(Number.parseInt(byte[1], 16));
  return utf8.encode(spec.replacement === null ? piece : piece.replaceAll(spec.replacement, ' '));
}
