// Parity: llama2.c's tokenizer.bin converted to a SentencePiece-style tokenizer.json the way transformers'
// LlamaConverter does it (▁ for space, merges of every two-piece split ordered by the merged piece's score), read by
// HfTokenizer (@huggingface/tokenizers), must encode exactly like run.c's encode() (our Llama2cTokenizer, itself
// checked against test.c ids): the legacy normalizer form built here, and the Metaspace form `mote export` writes
// (io/hf-tokenizer-files.ts), with the step tokens added.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { llama2cTokenizerJson } from '../../../src/io/hf-tokenizer-files.js';
import { STEP_TOKENS } from '../../../src/steps.js';
import {
  addStepTokens,
  HfTokenizer,
  Llama2cTokenizer,
  readLlama2cVocab,
} from '../../../src/tokenizer/index.js';
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
  const tok = new HfTokenizer(JSON.parse(JSON.stringify(convert(bin, vocabSize))));

  it('encodes like run.c and decodes back', () => {
    expect(tok.vocabSize).toBe(vocabSize);
    for (const text of TEXTS) {
      const ids = tok.encode(text);
      expect(ids).toEqual(reference.encode(text));
      expect(tok.decode(ids)).toBe(decodedByJs(text, ids, reference.decode(ids)));
    }
  });
});

/**
 * The first byte piece of U+FEFF (EF BB BF) when the vocabulary has no piece for it (tok512). The JS library's
 * ByteFallback decoder turns each run of byte pieces into text with a default TextDecoder, which drops a U+FEFF at
 * the start of the run; Python (Rust `String::from_utf8`) keeps it. A known difference of @huggingface/tokenizers.
 */
const BOM_BYTE_ID = 3 + 0xef;

/** run.c's decoding of `ids`, less the U+FEFF the JS library drops (see BOM_BYTE_ID). */
function decodedByJs(text: string, ids: number[], runC: string): string {
  return text.startsWith('\uFEFF') && ids.includes(BOM_BYTE_ID) ? runC.replace('\uFEFF', '') : runC;
}

describe('tok512.bin exported with its step tokens (Metaspace "first" form)', () => {
  const bin = new Uint8Array(readFileSync(TOK512_BIN));
  const reference = Llama2cTokenizer.fromBuffer(bin, 512);
  const steps = addStepTokens(reference);
  const json = llama2cTokenizerJson(bin, 512, reference.specialTokens, TOK512_BIN);
  const tok = new HfTokenizer(JSON.parse(JSON.stringify(json)));
  const { analysis, answer } = STEP_TOKENS;

  it('has the step tokens under the same ids and encodes around them like run.c', () => {
    expect(tok.vocabSize).toBe(reference.vocabSize);
    expect(tok.pieceToId(analysis.start)).toBe(steps.analysis.start);
    const texts = [
      `${analysis.start}The user asks about cats.${analysis.end} Fine.`,
      `Once upon a time${answer.start}Lily ran${answer.end}`,
      `x${analysis.start}${analysis.end}y`,
      ...ROUND_TRIP.filter((t) => !t.startsWith(' ') && !t.includes('<unk>')),
    ];
    for (const text of texts) {
      const ids = tok.encode(text, { eos: true });
      expect(ids).toEqual(reference.encode(text, { eos: true }));
      expect(tok.decode(ids)).toBe(decodedByJs(text, ids, reference.decode(ids)));
    }
  });

  it('differs from run.c where transformers does: a leading space, and the control tokens as text', () => {
    // Metaspace prepends no ▁ to text that starts with one; run.c adds its dummy-prefix space regardless
    expect(tok.encode(' Lily ran')).toEqual(reference.encode('Lily ran'));
    // <unk> <s> </s> are added tokens in a transformers tokenizer.json, matched whole; run.c spells them out
    expect(tok.encode('<unk></s>', { bos: false })).toEqual([0, 2]);
    expect(reference.encode('<unk></s>', { bos: false }).length).toBeGreaterThan(2);
  });
});
