// HF tokenizer.json: hand-built byte-level and SentencePiece-style (Llama) files encoded to hand-computed ids,
// write → read round trips, the loader's format choice, and bad files.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { STEP_TOKENS } from '../../../src/steps.js';
import {
  addStepTokens,
  BpeTokenizer,
  Llama2cTokenizer,
  loadTokenizer,
  saveHfTokenizer,
  tokenizerFromJson,
  tokenizerToJson,
  trainBpe,
} from '../../../src/tokenizer/index.js';
import { ConfigError, FormatError } from '../../../src/util/errors.js';
import { TOK512_BIN } from '../../helpers/index.js';
import { hhRlhfTexts, ROUND_TRIP, trainedTokenizer } from './corpus.js';
import { gpt2Tiny, llamaTiny } from './fixtures.js';

const dir = await mkdtemp(join(tmpdir(), 'mote-tokenizer-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

/** JSON text → object, as a file would give it. */
const viaText = (json: unknown) => JSON.parse(JSON.stringify(json));

describe('byte-level tokenizer.json (GPT-2 style, by hand)', () => {
  it.each(['strings', 'arrays'] as const)('encodes to hand-computed ids (merges as %s)', (form) => {
    const tok = tokenizerFromJson(gpt2Tiny(form));
    // "hello" → h e l l o → he ll → hell → hello (12); " world" → Ġ w o r l d → Ġw or → Ġwor l d (15 3 8); "!" 16
    expect(tok.encode('hello world!', { bos: false })).toEqual([12, 15, 3, 8, 16]);
    expect(tok.encode('hello<|endoftext|>hello')).toEqual([0, 12, 0, 12]); // BOS = EOS = <|endoftext|>
    expect([tok.bosId, tok.eosId, tok.vocabSize]).toEqual([0, 0, 17]);
    expect(tok.decode([12, 15, 3, 8, 16])).toBe('hello world!');
    expect(tok.idToPiece(15)).toBe('Ġwor');
    expect(tok.pieceToId('hello')).toBe(12);
  });

  it('applies merges by rank, not by length: a lower-ranked merge wins where two compete', () => {
    const json = gpt2Tiny('strings', ['e', 'l']); // e+l (rank 0) now beats h+e (rank 1): no "he" in "hello"
    expect(tokenizerFromJson(json).encode('hello', { bos: false })).toEqual([1, 17, 3, 4]);
  });

  it('applies Unicode and Lowercase normalizers before pre-tokenizing', () => {
    const json = viaText(gpt2Tiny());
    json.normalizer = { type: 'Sequence', normalizers: [{ type: 'NFKC' }, { type: 'Lowercase' }] };
    expect(tokenizerFromJson(json).encode('ＨELLO World!', { bos: false })).toEqual([12, 15, 3, 8, 16]);
  });

  it('says which character is missing from a vocabulary without byte fallback or unk', () => {
    expect(() => tokenizerFromJson(gpt2Tiny()).encode('hz')).toThrow(
      /"z" \(U\+007A\) is not in the BPE vocabulary/,
    );
  });
});

describe('SentencePiece-style tokenizer.json (Llama, by hand)', () => {
  // "hi hé" → ▁hi▁hé → ▁ h i ▁ h <0xC3> <0xA9> → ▁h i ▁h … → ▁hi ▁h <0xC3> <0xA9>
  const HI_HE = [1, 263, 262, 3 + 0xc3, 3 + 0xa9];

  it.each(['legacy', 'metaspace'] as const)('encodes with byte fallback (%s form)', (form) => {
    const tok = tokenizerFromJson(llamaTiny(form));
    expect([tok.bosId, tok.eosId, tok.vocabSize]).toEqual([1, 2, 265]);
    expect(tok.encode('hi hé')).toEqual(HI_HE);
    expect(tok.decode(HI_HE)).toBe('hi hé');
    expect(tok.encode('hi\n', { bos: false, eos: true })).toEqual([263, 3 + 0x0a, 2]);
    expect(tok.decode([263, 3 + 0x0a, 2])).toBe('hi\n');
    expect(tok.idToPiece(3 + 0x0a)).toBe('<0x0A>');
  });

  it('differs between the forms exactly where HF does: leading spaces and text after an added token', () => {
    const legacy = tokenizerFromJson(llamaTiny('legacy'));
    const meta = tokenizerFromJson(llamaTiny('metaspace'));
    // legacy prepends ▁ unconditionally, to every stretch; Metaspace "first" only at the start, if not already ▁
    expect(legacy.encode(' hi')).toEqual([1, 259, 263]);
    expect(meta.encode(' hi')).toEqual([1, 263]);
    expect(legacy.encode('<s>hi', { bos: false })).toEqual([1, 263]);
    expect(meta.encode('<s>hi', { bos: false })).toEqual([1, 260, 261]);
    expect(legacy.decode([1, 259, 263])).toBe(' hi'); // one leading space is stripped
  });

  it('cuts words before each ▁ only with Metaspace split', () => {
    const json = viaText(llamaTiny('metaspace'));
    json.model.vocab['i▁'] = 265;
    json.model.merges.unshift('i ▁'); // rank 0: merges across the word boundary unless words are split
    expect(tokenizerFromJson(json).encode('hi hi', { bos: false })).toEqual([262, 265, 260, 261]);
    json.pre_tokenizer.split = true;
    expect(tokenizerFromJson(json).encode('hi hi', { bos: false })).toEqual([263, 263]);
  });

  it('fuses unknown characters into one <unk> without byte fallback', () => {
    const tok = tokenizerFromJson(llamaTiny('legacy', false));
    expect(tok.encode('hé😀i', { bos: false })).toEqual([262, 0, 261]);
  });

  it('streams multi-byte characters made of byte pieces', () => {
    const tok = tokenizerFromJson(llamaTiny('legacy'));
    const ids = tok.encode('hi 😀', { bos: false });
    expect(ids).toEqual([263, 259, ...[0xf0, 0x9f, 0x98, 0x80].map((b) => 3 + b)]);
    const stream = tok.streamDecoder();
    expect(ids.map((id) => stream.push(id))).toEqual(['hi', ' ', '', '', '', '😀']);
    expect(stream.flush()).toBe('');
    const cut = tok.streamDecoder(263); // continuing after "hi": the next space is kept
    expect(cut.push(259) + cut.push(3 + 0xf0) + cut.flush()).toBe(' \uFFFD');
  });

  it('reads the Metaspace decoder as Replace + strip one leading space', () => {
    const json = llamaTiny('metaspace', false);
    (json as Record<string, unknown>).decoder = {
      type: 'Metaspace',
      replacement: '▁',
      prepend_scheme: 'first',
    };
    expect(tokenizerFromJson(json).decode([1, 263, 262])).toBe('hi h');
  });
});

describe('write → read', () => {
  const heldOut = hhRlhfTexts(20_000, 2000);

  it('gives identical encodings for a trained tokenizer with added step tokens', async () => {
    const tok = await trainBpe(hhRlhfTexts(60_000), { vocabSize: 700 });
    const steps = addStepTokens(tok);
    const back = tokenizerFromJson(viaText(tokenizerToJson(tok)));
    expect(back.vocabSize).toBe(tok.vocabSize);
    expect([...back.specialTokens]).toEqual([...tok.specialTokens]);
    expect(back.encode(STEP_TOKENS.analysis.start)).toEqual([1, steps.analysis.start]);
    for (const text of [...ROUND_TRIP, ...heldOut, `x${STEP_TOKENS.answer.start}y</s>`]) {
      expect(back.encode(text, { eos: true })).toEqual(tok.encode(text, { eos: true }));
    }
  });

  it('writes what HF tokenizers writes: string merges, ByteLevel stages, a BOS template', async () => {
    const json = tokenizerToJson(await trainedTokenizer()) as {
      model: { type: string; merges: unknown[]; vocab: Record<string, number> };
      pre_tokenizer: unknown;
      decoder: { type: string };
      post_processor: { single: unknown[] };
      added_tokens: { content: string }[];
    };
    expect(json.model.type).toBe('BPE');
    expect(json.model.merges[0]).toBe('Ġ t');
    expect(json.model.vocab['<s>']).toBe(1);
    expect(json.pre_tokenizer).toEqual({
      type: 'ByteLevel',
      add_prefix_space: false,
      trim_offsets: true,
      use_regex: true,
    });
    expect(json.decoder.type).toBe('ByteLevel');
    expect(json.post_processor.single[0]).toEqual({ SpecialToken: { id: '<s>', type_id: 0 } });
    expect(json.added_tokens.map((t) => t.content)).toEqual(['<pad>', '<s>', '</s>']);
  });

  it.each(['legacy', 'metaspace'] as const)('keeps a SentencePiece-style tokenizer (%s form)', (form) => {
    const tok = tokenizerFromJson(llamaTiny(form));
    const back = tokenizerFromJson(viaText(tokenizerToJson(tok)));
    for (const text of ['hi hé', ' hi', '<s>hi', 'hé😀i\n', ''])
      expect(back.encode(text)).toEqual(tok.encode(text));
  });

  it('restores a checkpoint state (toJSON / fromJSON)', async () => {
    const tok = await trainedTokenizer();
    const back = BpeTokenizer.fromJSON(viaText(tok));
    expect(back.encode(heldOut[0])).toEqual(tok.encode(heldOut[0]));
    expect(() => BpeTokenizer.fromJSON({ format: 'llama2c' })).toThrow(
      /format: got "llama2c"; expected "bpe"/,
    );
  });
});

describe('loadTokenizer', () => {
  it('reads a saved directory, taking BOS/EOS from tokenizer_config.json', async () => {
    const tok = await trainBpe(hhRlhfTexts(20_000), {
      vocabSize: 400,
      specialTokens: ['<pad>', '<|begin|>', '<|end|>'],
      bosToken: '<|begin|>',
      eosToken: '<|end|>',
    });
    await saveHfTokenizer(tok, join(dir, 'custom'));
    const back = await loadTokenizer(join(dir, 'custom'), { vocabSize: 512 });
    expect(back).toBeInstanceOf(BpeTokenizer);
    expect([back.bosId, back.eosId]).toEqual([1, 2]);
    expect(back.encode('hello there', { eos: true })).toEqual(tok.encode('hello there', { eos: true }));
    // without the config the EOS name is unknown, and the error says which option to pass
    await mkdir(join(dir, 'bare'));
    await writeFile(join(dir, 'bare', 'tokenizer.json'), JSON.stringify(tokenizerToJson(tok)));
    await expect(loadTokenizer(join(dir, 'bare', 'tokenizer.json'))).rejects.toThrow(
      /cannot tell the EOS token.*eosToken/,
    );
    expect((await loadTokenizer(join(dir, 'bare'), { eosToken: '<|end|>' })).eosId).toBe(2);
  });

  it('reads llama2.c .bin files with the existing loader', async () => {
    const tok = await loadTokenizer(TOK512_BIN, { vocabSize: 512 });
    expect(tok).toBeInstanceOf(Llama2cTokenizer);
    expect(tok.vocabSize).toBe(512);
  });

  it('sniffs JSON in a file without a known extension, and checks the model vocabulary size', async () => {
    const path = join(dir, 'tok.model');
    await writeFile(path, `  ${JSON.stringify(llamaTiny('legacy'))}`);
    expect((await loadTokenizer(path)).encode('hi hé')).toEqual([1, 263, 262, 198, 172]);
    await expect(loadTokenizer(path, { vocabSize: 200 })).rejects.toThrow(ConfigError);
    await expect(loadTokenizer(path, { vocabSize: 200 })).rejects.toThrow(
      /vocabSize = 200; expected an integer ≥ 265/,
    );
  });
});

/** The legacy Llama fixture with the value at a dotted path replaced (`''` replaces the whole file). */
function withField(path: string, value: unknown): unknown {
  if (path === '') return value;
  const json = viaText(llamaTiny('legacy'));
  const keys = path.split('.');
  const last = keys.pop()!;
  const parent = keys.reduce((o, k) => o[k] as Record<string, unknown>, json as Record<string, unknown>);
  parent[last] = value;
  return json;
}

describe('bad tokenizer.json files', () => {
  it.each([
    ['a non-object root', '', [], /\(root\): got \[\]; expected an object/],
    ['a Unigram model', 'model.type', 'Unigram', /model\.type: got "Unigram"; expected "BPE"/],
    ['BPE-dropout', 'model.dropout', 0.1, /model\.dropout: got 0\.1; .*BPE-dropout is not supported/],
    [
      'a Whitespace pre-tokenizer',
      'pre_tokenizer',
      { type: 'Whitespace' },
      /pre_tokenizer\.type: got "Whitespace"; expected null, ByteLevel, Metaspace/,
    ],
    [
      'a BertNormalizer',
      'normalizer',
      { type: 'BertNormalizer' },
      /normalizer\.type: got "BertNormalizer"; expected null, Sequence, NFC/,
    ],
    [
      'a Regex Replace',
      'normalizer.normalizers.1.pattern',
      { Regex: ' +' },
      /normalizer\.normalizers\[1\]\.pattern: .*Regex patterns are not supported/,
    ],
    ['no decoder', 'decoder', null, /decoder: got null; expected ByteLevel, Metaspace/],
    [
      'a WordPiece decoder',
      'decoder.decoders.2',
      { type: 'WordPiece' },
      /decoder\.decoders\[2\]\.type: got "WordPiece"/,
    ],
    [
      'a merge of unknown pieces',
      'model.merges.2',
      'h x',
      /model\.merges\[2\]: merge \["h","x"\] needs piece "x", which is not in model\.vocab/,
    ],
    [
      'a malformed merge',
      'model.merges.0',
      'a b c',
      /model\.merges\[0\]: got "a b c"; expected "left right" or \["left", "right"\]/,
    ],
    [
      'an id outside the vocabulary',
      'model.vocab.e',
      999,
      /model\.vocab\["e"\]: got 999; expected an integer id in \[0, 265\)/,
    ],
    [
      'an added token with lstrip',
      'added_tokens.2.lstrip',
      true,
      /added_tokens\[2\]\.lstrip: got true; expected false/,
    ],
    ['an added token with another id', 'added_tokens.1.id', 5, /"<s>" is model piece 1; expected that id/],
    [
      'an unk_token not in the vocabulary',
      'model.unk_token',
      '<UNK>',
      /model\.unk_token: "<UNK>" is not in model\.vocab/,
    ],
    ['a version other than 1.0', 'version', '2.0', /version: got "2\.0"; expected "1\.0"/],
  ])('rejects %s', (_, path, value, message) => {
    const input = withField(path, value);
    expect(() => tokenizerFromJson(input)).toThrow(FormatError);
    expect(() => tokenizerFromJson(input)).toThrow(message);
  });

  it('names the file when it is not JSON', async () => {
    const path = join(dir, 'broken.json');
    await writeFile(path, '{"model": ');
    await expect(loadTokenizer(path)).rejects.toThrow(new RegExp(`${path}: not valid JSON`));
  });
});
