// Plain text for language-model pretraining: a corpus file → documents, a seeded held-out split by document, and
// the token stream cut into fixed windows that `train` takes as examples (no step ids: plain text) (nanoGPT's train.bin/val.bin,
// in memory).
//
// Windows. The documents of a split are encoded with BOS and EOS and concatenated into one stream s of N tokens.
// Window k holds ids = s[kS, kS+S) and targets = s[kS+1, kS+S+1) for seqLen S, so every token but the first is a
// target exactly once; the last window may be shorter (the batcher pads it). Every target is trained (lossMask 1)
// and every token has step id 0 (question): no experts are attached while pretraining, so routing is unused.
// A window may span a document boundary; the model sees EOS BOS there, as GPT-2 pretraining does.
//
//   stream  <s> Hi ! </s> <s> Yo </s>      (N = 7), S = 3
//   window 0: ids <s> Hi !     targets Hi ! </s>
//   window 1: ids </s> <s> Yo  targets <s> Yo </s>
import { check, FormatError } from '../util/errors.js';
import { parseJsonl } from '../util/jsonl.js';
import type { TrainExample } from './example.js';
import { heldOutSplit } from './split.js';

export interface ReadCorpusOptions {
  /** JSONL: the string field holding each document's text. Default `'text'`. */
  textField?: string;
  /** JSONL: the longest line accepted, in UTF-8 bytes, checked before parsing (util/jsonl.ts). Default 1 MiB. */
  maxLineBytes?: number;
}

/** The `field` string of every non-blank JSONL line (util/jsonl.ts); a blank string is kept out. */
export function parseJsonlTexts(
  source: string,
  file: string,
  field: string,
  maxLineBytes?: number,
): string[] {
  const docs: string[] = [];
  for (const { line, value: record } of parseJsonl(source, file, { maxLineBytes }).records) {
    const value = record[field];
    if (typeof value !== 'string') {
      throw new FormatError(
        file,
        `${line}`,
        `field "${field}" is ${value === undefined ? 'missing' : `a ${typeof value}`}; expected a string (the line has: ${Object.keys(record).join(', ')}; choose the field with --text-field)`,
      );
    }
    if (value.trim() !== '') docs.push(value);
  }
  return docs;
}

/** Paragraphs of plain text (separated by lines holding only whitespace), trimmed of surrounding newlines. */
export function splitParagraphs(text: string): string[] {
  return text
    .replace(/\r\n/g, '\n')
    .split(/\n[ \t]*\n/)
    .map((p) => p.replace(/^\n+|\n+$/g, ''))
    .filter((p) => p.trim() !== '');
}

/**
 * Indices of the training and held-out documents: the library's one held-out split (split.ts), round(fraction·n)
 * documents (at least 1 when fraction > 0) chosen by a seeded shuffle, both lists in corpus order. At least one
 * document always stays for training.
 */
export function splitDocuments(
  n: number,
  fraction: number,
  seed: string,
): { train: number[]; eval: number[] } {
  const { train, heldOut } = heldOutSplit(n, fraction, seed);
  return { train, eval: heldOut };
}

/** Concatenates encoded documents and cuts the stream into windows of `seqLen` (file header). */
export function lmWindows(
  docs: readonly (readonly number[])[],
  seqLen: number,
  idPrefix: string,
): TrainExample[] {
  check(Number.isInteger(seqLen) && seqLen >= 1, 'seqLen', seqLen, 'a positive integer');
  const total = docs.reduce((n, d) => n + d.length, 0);
  const stream = new Int32Array(total);
  let at = 0;
  for (const d of docs) {
    stream.set(d, at);
    at += d.length;
  }
  const windows: TrainExample[] = [];
  for (let start = 0; start + 1 < total; start += seqLen) {
    const n = Math.min(seqLen, total - 1 - start);
    windows.push({
      id: `${idPrefix}-${windows.length}`,
      ids: stream.slice(start, start + n),
      targets: stream.slice(start + 1, start + n + 1),
      lossMask: new Float32Array(n).fill(1),
    });
  }
  return windows;
}
