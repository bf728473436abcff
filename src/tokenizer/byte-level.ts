// GPT-2 byte-level encoding for the BPE trainer: every byte maps to one printable unicode character, so a byte-level
// BPE vocabulary is a set of ordinary strings. Spec: openai/gpt-2 encoder.py `bytes_to_unicode` and its split
// pattern, as used by HF tokenizers' ByteLevel pre-tokenizer (read, not copied). Encoding itself is HfTokenizer's.

/**
 * The GPT-2 pre-tokenizer pattern: English contractions, letter runs, number runs and punctuation runs (each
 * with at most one leading space), then whitespace runs, keeping the last space of a run for the next word.
 * `\s` is written `\p{White_Space}` so the class is Unicode's (as in the Rust regex HF uses), not JS's.
 */
export const GPT2_SPLIT_PATTERN =
  /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\p{White_Space}\p{L}\p{N}]+|\p{White_Space}+(?!\P{White_Space})|\p{White_Space}+/gu;

/** Byte → its printable stand-in: printable Latin-1 bytes map to themselves, the other 68 to U+0100.. in order. */
const BYTE_TO_CHAR: readonly string[] = buildByteToChar();

function buildByteToChar(): string[] {
  const printable = (b: number): boolean =>
    (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const out: string[] = [];
  let next = 0x100;
  for (let b = 0; b < 256; b++) out.push(String.fromCharCode(printable(b) ? b : next++));
  return out;
}

/** The byte-level character of one byte (0..255): e.g. 0x20 → `Ġ`, 0x0A → `Ċ`, 0x41 → `A`. */
export function byteToChar(byte: number): string {
  return BYTE_TO_CHAR[byte];
}

/**
 * Splits text like GPT-2's pre-tokenizer. Joining the pieces gives `text` back: the pattern matches every
 * character, and should some character be skipped it would become a piece of its own.
 */
export function splitGpt2(text: string): string[] {
  const words = text.match(GPT2_SPLIT_PATTERN) ?? [];
  let length = 0;
  for (const w of words) length += w.length;
  return length === text.length ? words : splitKeepingGaps(text);
}

function splitKeepingGaps(text: string): string[] {
  const out: string[] = [];
  let end = 0;
  for (const m of text.matchAll(GPT2_SPLIT_PATTERN)) {
    if (m.index > end) out.push(text.slice(end, m.index));
    out.push(m[0]);
    end = m.index + m[0].length;
  }
  if (end < text.length) out.push(text.slice(end));
  return out;
}
