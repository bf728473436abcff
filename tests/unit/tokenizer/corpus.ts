// Test corpus for BPE training: the first ~200 KB of HH-RLHF "chosen" dialogues (data/, committed), and a
// tokenizer trained on it once per test file.
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { type HfTokenizer, trainBpe } from '../../../src/tokenizer/index.js';
import { ROOT } from '../../helpers/index.js';

/** Dialogues in file order until `maxBytes` of UTF-8 is reached. */
export function hhRlhfTexts(maxBytes = 200_000, skip = 0): string[] {
  const lines = gunzipSync(readFileSync(`${ROOT}data/hh_rlhf_harmless_base_test.jsonl.gz`))
    .toString('utf8')
    .split('\n');
  const out: string[] = [];
  let bytes = 0;
  for (const line of lines.slice(skip)) {
    if (line === '' || bytes >= maxBytes) continue;
    const text = (JSON.parse(line) as { chosen: string }).chosen;
    out.push(text);
    bytes += Buffer.byteLength(text);
  }
  return out;
}

/** Texts the tests round-trip: ASCII, multi-byte UTF-8, emoji (ZWJ and flags), whitespace runs, controls. */
export const ROUND_TRIP = [
  'Once upon a time, there was a little girl named Lily.',
  "Human: what's 2+2? It's 4, isn't it?\n\nAssistant: Yes — 4.",
  '  leading spaces, trailing spaces  ',
  'tabs\tand\nnewlines\r\n\n\n   runs      of  spaces\t\t',
  'Grüße aus Köln, naïve café — “quotes” ½ ∑ ∫',
  '日本語のテキストと中文',
  'emoji: 😀👍🏽 🇫🇷 👨‍👩‍👧',
  '\uFEFFbyte order mark first',
  'nul \u0000 and control \u0007 bytes \u0085',
  '<unk> <s > </ s> <0x41> look like pieces',
  ' ',
  '',
];

let cached: Promise<HfTokenizer> | undefined;

/** A byte-level BPE with 1024 ids trained on `hhRlhfTexts()` (shared within one test file). */
export function trainedTokenizer(): Promise<HfTokenizer> {
  cached ??= trainBpe(hhRlhfTexts(), { vocabSize: 1024 });
  return cached;
}
