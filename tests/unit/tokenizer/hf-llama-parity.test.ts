// Parity: llama2.c's tokenizer.bin converted to a SentencePiece-style tokenizer.json the way transformers'
// LlamaConverter does it (▁ for space, merges of every two-piece split ordered by the merged piece's score)
// must encode exactly like run.c's encode() (our Llama2cTokenizer, itself checked against test.c ids).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Llama2cTokenizer, readLlama2cVocab, tokenizerFromJson } from '../../../src/tokenizer/index.js';
import { TOK32K_BIN, TOK512_BIN } from '../../helpers/index.js';
import { hhRlhfTexts, ROUND_TRIP } from './corpus.js';

/** tokenizer.bin → tokenizer.json object (legacy normalizer form, byte fallback, fused <unk>). */
function convert(bin: Uint8Array, vocabSize: number) {
  const { pieces: raw, scores } = readLlama2cVocab(bin, 'tokenizer.bin', vocabSize);
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  const pieces = raw.map((p, id) =>
    id < 3 ? ['<unk>', '<s>', '</s>'][id] : decoder.decode(p).replaceAll(' ', '▁'),
  );
  const ids = new Map(pieces.map((p, id) => [p, id]));
  const merges: { left: string; right: string; score: number; id: number }[] = [];
  pieces.forEach((piece, id) => {
    if (id < 259) return; // control and byte pieces are never merge results
    const chars = [...piece];
    for (let k = 1; k < chars.length; k++) {
      const [left, right] = [chars.slice(0, k).join(''), chars.slice(k).join('')];
      if ((ids.get(left) ?? 0) >= 259 && (ids.get(right) ?? 0) >= 259)
        merges.push({ left, right, score: scores[id], id });
    }
  });
  merges.sort((a, b) => b.score - a.score || a.id - b.id);
  return {
    version: '1.0',
    added_tokens: [], // HF lists <unk> <s> </s> here, making them atomic in text; run.c has no such matching
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'Prepend', prepend: '▁' },
        { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
      ],
    },
    pre_tokenizer: null,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>' } }, { Sequence: { id: 'A' } }],
    },
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: '▁' }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        { type: 'Strip', content: ' ', start: 1, stop: 0 },
      ],
    },
    model: {
      type: 'BPE',
      unk_token: '<unk>',
      fuse_unk: true,
      byte_fallback: true,
      vocab: Object.fromEntries(pieces.map((p, id) => [p, id])),
      merges: merges.map((m) => [m.left, m.right]),
    },
  };
}

const TEXTS = [
  'I believe the meaning of life is',
  'Simply put, the theory of relativity states that ',
  'Translate English to French:\n\n        sea otter => loutre de mer\n        peppermint => menthe poivrée',
  ...ROUND_TRIP,
  ...hhRlhfTexts(20_000, 3000),
];

describe.each([
  ['tok512.bin', TOK512_BIN, 512],
  ['32k tokenizer.bin', TOK32K_BIN, 32000],
])('%s as a SentencePiece-style tokenizer.json', (_, path, vocabSize) => {
  const bin = new Uint8Array(readFileSync(path));
  const reference = Llama2cTokenizer.fromBuffer(bin, vocabSize);
  const tok = tokenizerFromJson(JSON.parse(JSON.stringify(convert(bin, vocabSize))));

  it('encodes like run.c and decodes back', () => {
    expect(tok.vocabSize).toBe(vocabSize);
    for (const text of TEXTS) {
      const ids = tok.encode(text);
      expect(ids).toEqual(reference.encode(text));
      expect(tok.decode(ids)).toBe(reference.decode(ids));
    }
  });
});
