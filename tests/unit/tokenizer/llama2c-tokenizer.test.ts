// llama2.c tokenizer: golden ids from karpathy/llama2.c test.c, run.c decode semantics, round trips.
import { describe, expect, it } from 'vitest';
import { Llama2cTokenizer } from '../../../src/tokenizer/index.js';
import { loadLlama2cTokenizer } from '../../../src/tokenizer/llama2c-tokenizer-node.js';
import { TOK32K_BIN, TOK512_BIN } from '../../helpers/index.js';

const tok32k = await loadLlama2cTokenizer(TOK32K_BIN, 32000);
const tok512 = await loadLlama2cTokenizer(TOK512_BIN);

// karpathy/llama2.c test.c `test_prompt_encodings` (encode with bos=1, eos=0)
const GOLDEN: [string, number[]][] = [
  ['', [1]],
  ['I believe the meaning of life is', [1, 306, 4658, 278, 6593, 310, 2834, 338]],
  [
    'Simply put, the theory of relativity states that ',
    [1, 3439, 17632, 1925, 29892, 278, 6368, 310, 14215, 537, 5922, 393, 29871],
  ],
  [
    'A brief message congratulating the team on the launch:\n\n        Hi everyone,\n\n        I just ',
    [
      1, 319, 11473, 2643, 378, 629, 271, 18099, 278, 3815, 373, 278, 6826, 29901, 13, 13, 4706, 6324, 14332,
      29892, 13, 13, 4706, 306, 925, 29871,
    ],
  ],
  [
    'Translate English to French:\n\n        sea otter => loutre de mer\n        peppermint => menthe poivrée\n        plush girafe => girafe peluche\n        cheese =>',
    [
      1, 4103, 9632, 4223, 304, 5176, 29901, 13, 13, 4706, 7205, 4932, 357, 1149, 301, 449, 276, 316, 2778,
      13, 4706, 1236, 407, 837, 524, 1149, 6042, 354, 772, 440, 29878, 1318, 13, 4706, 715, 1878, 330, 3055,
      1725, 1149, 330, 3055, 1725, 4639, 28754, 13, 4706, 923, 968, 1149,
    ],
  ],
];

const ROUND_TRIP = [
  'Once upon a time, there was a little girl named Lily.',
  '  leading spaces, trailing spaces  ',
  'tabs\tand\nnewlines\r\n',
  'Grüße aus Köln, naïve café — “quotes” ½',
  '日本語のテキストと中文',
  'emoji: 😀👍🏽 🇫🇷 👨‍👩‍👧',
  '\uFEFFbyte order mark first',
  'nul \u0000 and control \u0007 bytes',
  '<unk> <s> </s> <0x41> look like pieces',
  ' ',
  '',
];

describe('llama2.c tokenizer (32k)', () => {
  it('has the vocabulary of the file', () => {
    expect(tok32k.vocabSize).toBe(32000);
    expect(tok32k.maxTokenLength).toBe(27);
    expect(tok32k.idToPiece(13)).toBe('<0x0A>');
    expect(tok32k.pieceToId(' the')).toBe(278);
  });

  it.each(GOLDEN)('encodes %j to the test.c ids', (text, ids) => {
    expect(tok32k.encode(text)).toEqual(ids);
  });

  it('honours bos and eos options', () => {
    expect(tok32k.encode('I believe', { bos: false })).toEqual([306, 4658]);
    expect(tok32k.encode('I believe', { eos: true })).toEqual([1, 306, 4658, 2]);
    expect(tok32k.encode('', { bos: false })).toEqual([]);
  });

  it.each(GOLDEN)('decodes the test.c ids of %j back to the text', (text, ids) => {
    expect(tok32k.decode(ids)).toBe(text);
  });

  it.each(ROUND_TRIP)('round trips %j', (text) => {
    expect(tok32k.decode(tok32k.encode(text, { eos: true }))).toBe(text);
  });
});

describe('llama2.c tokenizer (tok512)', () => {
  it('infers the vocab size from the file', () => {
    expect(tok512.vocabSize).toBe(512);
    expect(tok512.idToPiece(259)).toBe(' t');
  });

  it.each(ROUND_TRIP)('round trips %j', (text) => {
    expect(tok512.decode(tok512.encode(text))).toBe(text);
  });

  it('falls back to bytes (id = byte + 3) for codepoints not in the vocabulary', () => {
    // 😀 is F0 9F 98 80; the dummy prefix " " comes first
    expect(tok512.encode('😀')).toEqual([1, tok512.pieceToId(' '), 0xf0 + 3, 0x9f + 3, 0x98 + 3, 0x80 + 3]);
  });

  it('merges to the same ids whatever the codepoints were split into', () => {
    const ids = tok512.encode('Once upon a time');
    expect(ids[0]).toBe(1);
    expect(ids.length).toBeLessThan('Once upon a time'.length);
    expect(ids.map((id) => tok512.idToPiece(id)).join('')).toBe('\n<s>\n Once upon a time');
  });
});

describe('decode (run.c semantics)', () => {
  const the = tok32k.pieceToId(' the')!;
  it('drops the leading space only right after BOS', () => {
    expect(tok32k.decode([1, the, the])).toBe('the the');
    expect(tok32k.decode([the, the])).toBe(' the the');
  });

  it('turns <0xNN> pieces into raw bytes and never strips a byte-token space', () => {
    expect(tok32k.decode([1, 0x20 + 3, 0x41 + 3])).toBe(' A');
    expect(tok32k.decode([0xc3 + 3, 0xa9 + 3])).toBe('é');
  });

  it('renders BOS and EOS as nothing and rejects ids out of range', () => {
    expect(tok32k.decode([1, 2])).toBe('');
    expect(() => tok32k.decode([32000])).toThrow(/token id 32000 is out of range; expected .*\[0, 32000\)/);
    expect(() => tok32k.decode([-1])).toThrow(/out of range/);
  });
});

describe('streamDecoder', () => {
  it('holds back a UTF-8 sequence split over byte tokens', () => {
    const ids = tok512.encode('a😀b');
    const dec = tok512.streamDecoder();
    const outs = ids.map((id) => dec.push(id));
    expect(outs.join('') + dec.flush()).toBe('a😀b');
    const emojiBytes = [0xf0, 0x9f, 0x98, 0x80].map((b) => b + 3);
    const at = ids.indexOf(emojiBytes[0]);
    expect(outs.slice(at, at + 3)).toEqual(['', '', '']);
    expect(outs[at + 3]).toBe('😀');
  });

  it('equals decode() piece by piece on mixed text', () => {
    const text = 'Grüße 日本 😀👍🏽 done';
    const ids = tok32k.encode(text);
    const dec = tok32k.streamDecoder();
    expect(ids.map((id) => dec.push(id)).join('') + dec.flush()).toBe(tok32k.decode(ids));
  });

  it('flushes an incomplete sequence as U+FFFD', () => {
    const dec = tok512.streamDecoder();
    expect(dec.push(0xf0 + 3)).toBe('');
    expect(dec.flush()).toBe('\uFFFD');
  });

  it('takes the id before the first push for the BOS rule', () => {
    const the = tok32k.pieceToId(' the')!;
    expect(tok32k.streamDecoder(1).push(the)).toBe('the');
    expect(tok32k.streamDecoder().push(the)).toBe(' the');
  });
});

describe('encoding speed', () => {
  it('encodes a 10 KB text (sanity, no timing assertion)', () => {
    const base = 'Once upon a time, there was a little girl named Lily. She loved to play outside. 😀 ';
    const text = base.repeat(Math.ceil(10_240 / base.length));
    for (const tok of [tok512, tok32k]) {
      const ids = tok.encode(text);
      expect(tok.decode(ids)).toBe(text);
    }
  });
});

describe('fromBuffer', () => {
  it('gives the same tokenizer as the file loader', async () => {
    const { readFile } = await import('node:fs/promises');
    const tok = Llama2cTokenizer.fromBuffer(new Uint8Array(await readFile(TOK512_BIN)), 512);
    expect(tok.encode('Lily saw a cat.')).toEqual(tok512.encode('Lily saw a cat.'));
  });
});
