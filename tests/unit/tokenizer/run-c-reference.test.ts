// Llama2cTokenizer.encode against a literal (O(n²)) reading of run.c `encode()` on random text, both vocabularies.
import { readFileSync } from 'node:fs';
import seedrandom from 'seedrandom';
import { describe, expect, it } from 'vitest';
import { Llama2cTokenizer, readLlama2cVocab } from '../../../src/tokenizer/index.js';
import { TOK32K_BIN, TOK512_BIN } from '../../helpers/index.js';

const latin1 = (bytes: Uint8Array) => Buffer.from(bytes).toString('latin1');

/** run.c encode(bos=1, eos=0), step by step: dummy prefix, codepoints or bytes, rescan merges. */
function referenceEncoder(file: string) {
  const { pieces, scores } = readLlama2cVocab(new Uint8Array(readFileSync(file)), file);
  const vocab = pieces.map(latin1);
  const lookup = new Map(vocab.map((p, i) => [p, i]));
  return (text: string): number[] => {
    const bytes = Buffer.from(text, 'utf8');
    const tokens = [1];
    if (bytes.length > 0) tokens.push(lookup.get(' ')!);
    let buf: number[] = [];
    for (let c = 0; c < bytes.length; c++) {
      if ((bytes[c] & 0xc0) !== 0x80) buf = [];
      buf.push(bytes[c]);
      if (c + 1 < bytes.length && (bytes[c + 1] & 0xc0) === 0x80 && buf.length < 4) continue;
      const id = lookup.get(latin1(Uint8Array.from(buf)));
      if (id !== undefined) tokens.push(id);
      else tokens.push(...buf.map((b) => b + 3));
      buf = [];
    }
    for (;;) {
      let [bestScore, bestId, bestIdx] = [-1e10, -1, -1];
      for (let i = 0; i + 1 < tokens.length; i++) {
        const id = lookup.get(vocab[tokens[i]] + vocab[tokens[i + 1]]);
        if (id !== undefined && scores[id] > bestScore) [bestScore, bestId, bestIdx] = [scores[id], id, i];
      }
      if (bestIdx === -1) return tokens;
      tokens.splice(bestIdx, 2, bestId);
    }
  };
}

const ALPHABET = [...'abcdefghijklmnopqrstuvwxyz      ETAOIN.,;:!?\'"-\n\t0123456789éüßñ€日本語😀👍<>|/'];
const WORDS = ['the', ' the', 'Once', ' upon', 'ing', 'tion', '  ', '    ', '<unk>', '<s>', '<0x41>', 'Lily'];

function randomTexts(seed: string, count: number): string[] {
  const rng = seedrandom(seed);
  const pick = <T>(xs: T[]) => xs[Math.floor(rng() * xs.length)];
  return Array.from({ length: count }, () => {
    const n = 1 + Math.floor(rng() * 60);
    return Array.from({ length: n }, () => (rng() < 0.2 ? pick(WORDS) : pick(ALPHABET))).join('');
  });
}

describe.each([
  ['tok512', TOK512_BIN],
  ['32k', TOK32K_BIN],
])('encode equals the run.c reference (%s)', (_name, file) => {
  const tok = Llama2cTokenizer.fromBuffer(new Uint8Array(readFileSync(file)), undefined, file);
  const reference = referenceEncoder(file);

  it('on 300 random texts', () => {
    for (const text of randomTexts(file, 300))
      expect(tok.encode(text), JSON.stringify(text)).toEqual(reference(text));
  });
});
