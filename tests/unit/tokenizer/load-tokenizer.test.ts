// loadTokenizer / tokenizerFromFiles: the format picked from a file or a model directory, files given as text or as
// parsed objects, and bad input (missing, unreadable or malformed files; merges lines; mismatched pairs; fields of
// tokenizer.json) as errors naming the file and the line or field.
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HfTokenizer, Llama2cTokenizer, tokenizerFromFiles } from '../../../src/tokenizer/index.js';
import { loadTokenizer } from '../../../src/tokenizer/load-tokenizer-node.js';
import { ConfigError, FormatError } from '../../../src/util/errors.js';
import { TOK512_BIN } from '../../helpers/index.js';
import { gpt2Tiny, llamaTiny } from './fixtures.js';
import { HF_DIRS } from './hf-models.js';

const root = await mkdtemp(join(tmpdir(), 'mote-load-tokenizer-'));
afterAll(() => rm(root, { recursive: true, force: true }));
let n = 0;

/** A fresh directory holding `files` (name → text). */
async function dirWith(files: Record<string, string>): Promise<string> {
  const dir = join(root, `d${n++}`);
  await mkdir(dir);
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  return dir;
}

/** A byte-level vocab.json + merges.txt small enough to check by hand: "hello" → he ll o → hell o → hello. */
const TINY_VOCAB = { h: 0, e: 1, l: 2, o: 3, Ġ: 4, he: 5, ll: 6, hell: 7, hello: 8 };
const TINY_MERGES = 'h e\nl l\nhe ll\nhell o\n';
const QWEN_CONFIG = {
  tokenizer_class: 'Qwen2Tokenizer',
  eos_token: '<|im_end|>',
  added_tokens_decoder: { 9: { content: '<|im_end|>', special: true } },
};

describe('the format, from a directory or a file', () => {
  it('reads each real model directory in its own format', async () => {
    const sources = await Promise.all(
      (['smollm2', 'qwen25', 'llama32'] as const).map(
        async (m) => (await loadTokenizer(HF_DIRS[m])) as HfTokenizer,
      ),
    );
    expect(sources.map((t) => t.source)).toEqual([
      join(HF_DIRS.smollm2, 'tokenizer.json'),
      `${join(HF_DIRS.qwen25, 'vocab.json')} + ${join(HF_DIRS.qwen25, 'merges.txt')}`,
      `${join(HF_DIRS.llama32, 'encoder.json')} + ${join(HF_DIRS.llama32, 'vocab.bpe')}`,
    ]);
    // the Llama-3 chat template comes from chat_template.jinja; it makes the EOS the end-of-turn token
    expect(sources[2].chatTemplate).toContain('<|eot_id|>');
  });

  it('reads vocab.json + merges.txt, with the added tokens of tokenizer_config.json', async () => {
    const dir = await dirWith({
      'vocab.json': JSON.stringify(TINY_VOCAB),
      'merges.txt': `#version: 0.2\n${TINY_MERGES}`,
      'tokenizer_config.json': JSON.stringify(QWEN_CONFIG),
    });
    const tok = (await loadTokenizer(dir)) as HfTokenizer;
    expect(tok.encode('hello hello<|im_end|>')).toEqual([8, 4, 8, 9]);
    expect([tok.vocabSize, tok.bosId, tok.eosId]).toEqual([10, -1, 9]);
    expect(tok.decode([8, 4, 8, 9])).toBe('hello hello'); // EOS renders as nothing
  });

  it('prefers tokenizer.json in a directory; a path to vocab.json or merges.txt stands for the pair', async () => {
    const dir = await dirWith({
      'vocab.json': JSON.stringify(TINY_VOCAB),
      'merges.txt': TINY_MERGES,
      'tokenizer.json': JSON.stringify(gpt2Tiny()),
    });
    expect((await loadTokenizer(dir)).vocabSize).toBe(17);
    expect((await loadTokenizer(join(dir, 'merges.txt'))).vocabSize).toBe(9);
    expect((await loadTokenizer(join(dir, 'vocab.json'))).vocabSize).toBe(9);
  });

  it('takes already-parsed objects or texts alike', async () => {
    const asText = tokenizerFromFiles({ vocabJson: JSON.stringify(TINY_VOCAB), mergesTxt: TINY_MERGES });
    const asObject = tokenizerFromFiles({ vocabJson: TINY_VOCAB, mergesTxt: TINY_MERGES });
    expect(asObject.encode('hello hello')).toEqual(asText.encode('hello hello'));
    const json = tokenizerFromFiles({
      tokenizerJson: llamaTiny('legacy'),
      tokenizerConfig: '{"eos_token": "<s>"}',
    });
    expect(json.eosId).toBe(1);
    expect(tokenizerFromFiles({ tokenizerJson: llamaTiny('legacy') }, { eosToken: '<unk>' }).eosId).toBe(0);
  });

  it('reads a tokenizer.json path with the config and template beside it', async () => {
    const tok = (await loadTokenizer(join(HF_DIRS.tinyllama, 'tokenizer.json'))) as HfTokenizer;
    expect(tok.chatTemplate).toContain('<|assistant|>');
  });

  it('reads llama2.c .bin files, and a directory that holds only tokenizer.bin', async () => {
    const tok = await loadTokenizer(TOK512_BIN, { vocabSize: 512 });
    expect(tok).toBeInstanceOf(Llama2cTokenizer);
    const dir = await dirWith({});
    await cp(TOK512_BIN, join(dir, 'tokenizer.bin'));
    expect((await loadTokenizer(dir)).vocabSize).toBe(512);
  });

  it('sniffs JSON in a file without a known extension, and checks the model vocabulary size', async () => {
    const path = join(await dirWith({}), 'tok.model');
    await writeFile(path, `  ${JSON.stringify(llamaTiny('legacy'))}`);
    expect((await loadTokenizer(path)).encode('hi hé')).toEqual([1, 263, 262, 198, 172]);
    await expect(loadTokenizer(path, { vocabSize: 200 })).rejects.toThrow(ConfigError);
    await expect(loadTokenizer(path, { vocabSize: 200 })).rejects.toThrow(
      /vocabSize = 200; expected an integer ≥ 265, the number of ids in .*tok\.model/,
    );
    expect((await loadTokenizer(path, { vocabSize: 300 })).vocabSize).toBe(265); // padded rows are fine
  });
});

describe('bad files', () => {
  it('names a missing path, a directory without tokenizer files, and half of a pair', async () => {
    await expect(loadTokenizer(join(root, 'nope'))).rejects.toThrow(
      /cannot read tokenizer .*nope: no such file or directory/,
    );
    const empty = await dirWith({ 'config.json': '{}' });
    await expect(loadTokenizer(empty)).rejects.toThrow(
      /no tokenizer files \(looked for tokenizer\.json, vocab\.json \+ merges\.txt, encoder\.json \+ vocab\.bpe, tokenizer\.bin\)/,
    );
    const half = await dirWith({ 'vocab.json': '{}' });
    await expect(loadTokenizer(half)).rejects.toThrow(
      /found vocab\.json without merges\.txt; both are needed/,
    );
    expect(() => tokenizerFromFiles({ encoderJson: {} })).toThrow(/encoder\.json needs vocab\.bpe beside it/);
    expect(() => tokenizerFromFiles({})).toThrow(/no tokenizer files/);
  });

  it('names a file that cannot be read', async () => {
    const dir = await dirWith({});
    await mkdir(join(dir, 'tokenizer.json')); // exists, but is not a readable file
    await expect(loadTokenizer(dir)).rejects.toThrow(/tokenizer\.json: cannot read \(EISDIR\)/);
  });

  it('gives the file, line and column of malformed JSON', async () => {
    const dir = await dirWith({ 'tokenizer.json': '{\n  "model": {\n  }}}' });
    await expect(loadTokenizer(dir)).rejects.toThrow(FormatError);
    await expect(loadTokenizer(dir)).rejects.toThrow(/tokenizer\.json:line 3 column 5: not valid JSON/);
    const config = await dirWith({
      'tokenizer.json': JSON.stringify(gpt2Tiny()),
      'tokenizer_config.json': '{',
    });
    await expect(loadTokenizer(config)).rejects.toThrow(
      /tokenizer_config\.json:line 1 column 2: not valid JSON/,
    );
  });

  it.each([
    [
      'a line of three pieces',
      'h e\nl l x\n',
      /merges\.txt:line 2: "l l x" is not two pieces separated by one space/,
    ],
    ['a line of one piece', 'h e\n\nl l\n', /merges\.txt:line 2: "" is not two pieces/],
    ['two spaces', 'h  e\n', /merges\.txt:line 1: "h {2}e" is not two pieces/],
    ['a piece not in vocab.json', 'h e\nl q\n', /merges\.txt:line 2: "q" is not in the vocabulary/],
  ])('names the merges.txt line of %s', (_, merges, message) => {
    const files = { vocabJson: TINY_VOCAB, mergesTxt: merges, names: { mergesTxt: 'merges.txt' } };
    expect(() => tokenizerFromFiles(files)).toThrow(FormatError);
    expect(() => tokenizerFromFiles(files)).toThrow(message);
  });

  it('refuses vocab.json ids that are not integers, and slow files of another family', () => {
    expect(() => tokenizerFromFiles({ vocabJson: { a: 'x' }, mergesTxt: '' })).toThrow(
      /vocab\.json:\["a"\]: got "x"; expected a non-negative integer id/,
    );
    expect(() => tokenizerFromFiles({ vocabJson: { a: 0, b: 0 }, mergesTxt: '' })).toThrow(
      /vocab\.json:\["b"\]: id 0 is also the id of "a"/,
    );
    const gpt2 = {
      vocabJson: TINY_VOCAB,
      mergesTxt: TINY_MERGES,
      tokenizerConfig: { tokenizer_class: 'GPT2Tokenizer' },
    };
    expect(() => tokenizerFromFiles(gpt2)).toThrow(
      /tokenizer_config\.json:tokenizer_class: got "GPT2Tokenizer"; .* Qwen2Tokenizer files only/,
    );
    expect(() => tokenizerFromFiles({ encoderJson: TINY_VOCAB, vocabBpe: TINY_MERGES })).toThrow(
      /encoder\.json: has 9 entries; .* Llama-3's 128000 BPE ranks/,
    );
  });

  it('names a bad tokenizer_config.json field', () => {
    const files = { tokenizerJson: gpt2Tiny(), tokenizerConfig: { eos_token: 5 } };
    expect(() => tokenizerFromFiles(files)).toThrow(
      /tokenizer_config\.json:eos_token: got 5; expected a string/,
    );
    const missing = { tokenizerJson: gpt2Tiny(), tokenizerConfig: { eos_token: '</s>' } };
    expect(() => tokenizerFromFiles(missing)).toThrow(
      /tokenizer_config\.json:eos_token: "<\/s>" is neither a vocabulary piece nor an added token of tokenizer\.json/,
    );
    expect(() =>
      tokenizerFromFiles({ tokenizerJson: gpt2Tiny() }, { bosToken: '<bos>', eosToken: '<eos>' }),
    ).toThrow(/options:eosToken: "<eos>" is neither/);
  });
});

/** The legacy Llama fixture with the value at a dotted path replaced (`''` replaces the whole file). */
function withField(path: string, value: unknown): unknown {
  if (path === '') return value;
  const json = JSON.parse(JSON.stringify(llamaTiny('legacy')));
  const keys = path.split('.');
  const last = keys.pop()!;
  const parent = keys.reduce((o, k) => o[k] as Record<string, unknown>, json as Record<string, unknown>);
  parent[last] = value;
  return json;
}

describe('bad tokenizer.json fields', () => {
  it.each([
    ['a non-object root', '', [], /\(root\): got \[\]; expected an object/],
    ['a Unigram model', 'model.type', 'Unigram', /model\.type: got "Unigram"; expected "BPE"/],
    ['BPE-dropout', 'model.dropout', 0.1, /model\.dropout: got 0\.1; expected null \(BPE-dropout/],
    [
      'an unknown pre-tokenizer',
      'pre_tokenizer',
      { type: 'Shuffle' },
      /tokenizer\.json: @huggingface\/tokenizers cannot build it: Unknown PreTokenizer type: Shuffle/,
    ],
    ['merges that are not an array', 'model.merges', 'h i', /model\.merges: got "h i"; expected an array/],
    [
      'a malformed merge',
      'model.merges.0',
      'a b c',
      /model\.merges\[0\]: got "a b c"; expected "left right"/,
    ],
    [
      'a merge of an unknown piece',
      'model.merges.1',
      '▁h x',
      /model\.merges\[1\]: "x" is not in model\.vocab/,
    ],
    ['a negative id', 'model.vocab.e', -1, /model\.vocab\["e"\]: got -1; expected a non-negative integer id/],
    ['an id used twice', 'model.vocab.e', 260, /model\.vocab\["(e|h)"\]: id 260 is also the id of/],
    [
      'an added token with another id',
      'added_tokens.1.id',
      5,
      /added_tokens\[1\]: "<s>" has id 5 but model\.vocab id 1/,
    ],
    [
      'an added token twice',
      'added_tokens',
      [
        { id: 265, content: '<x>' },
        { id: 266, content: '<x>' },
      ],
      /added_tokens\[1\]: "<x>" is listed twice/,
    ],
    [
      'two added tokens with one id',
      'added_tokens',
      [
        { id: 265, content: '<x>' },
        { id: 265, content: '<y>' },
      ],
      /added_tokens\[1\]: id 265 is also the id of "<x>"/,
    ],
    [
      'an empty added token',
      'added_tokens.2.content',
      '',
      /added_tokens\[2\]\.content: got ""; expected a non-empty/,
    ],
    [
      'an unk_token not in the vocabulary',
      'model.unk_token',
      '<UNK>',
      /model\.unk_token: "<UNK>" is not in model\.vocab/,
    ],
    ['a version other than 1.0', 'version', '2.0', /version: got "2\.0"; expected "1\.0"/],
  ])('rejects %s', (_, path, value, message) => {
    const input = withField(path, value);
    expect(() => new HfTokenizer(input)).toThrow(FormatError);
    expect(() => new HfTokenizer(input)).toThrow(message);
  });

  it('fills the fields a minimal file leaves out', () => {
    const { model } = llamaTiny('legacy');
    const tok = new HfTokenizer({ model });
    expect(tok.encode('hi', { bos: false })).toEqual([260, 261]); // no normalizer: no ▁, and h + i do not merge
    expect(tok.toTokenizerJson()).toMatchObject({ version: '1.0', added_tokens: [], normalizer: null });
  });
});
