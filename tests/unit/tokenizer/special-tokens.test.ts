// Added special tokens (atomic ids, longest match, verbatim decode, JSON restore) and the AlignCoT step tokens.
import { describe, expect, it } from 'vitest';
import { STEP_TOKENS } from '../../../src/steps.js';
import { addStepTokens, type Llama2cTokenizer } from '../../../src/tokenizer/index.js';
import { loadLlama2cTokenizer } from '../../../src/tokenizer/llama2c-tokenizer-node.js';
import { ConfigError, FormatError } from '../../../src/util/errors.js';
import { TOK32K_BIN, TOK512_BIN } from '../../helpers/index.js';

const fresh = () => loadLlama2cTokenizer(TOK512_BIN, 512);

describe('addSpecialTokens', () => {
  it('appends ids after the vocabulary and returns existing ids on re-adding', async () => {
    const tok = await fresh();
    expect(tok.addSpecialTokens(['<|analysis|>', '<|/analysis|>'])).toEqual([512, 513]);
    expect(tok.addSpecialTokens(['<|guidance|>', '<|analysis|>'])).toEqual([514, 512]);
    expect(tok.vocabSize).toBe(515);
    expect(tok.baseVocabSize).toBe(512);
    expect([...tok.specialTokens]).toEqual([
      ['<|analysis|>', 512],
      ['<|/analysis|>', 513],
      ['<|guidance|>', 514],
    ]);
    expect(tok.idToPiece(513)).toBe('<|/analysis|>');
    expect(tok.pieceToId('<|guidance|>')).toBe(514);
  });

  it('makes a piece of the file special under its own id', async () => {
    const tok = await fresh();
    expect(tok.addSpecialTokens([' t'])).toEqual([259]);
    expect(tok.vocabSize).toBe(512);
  });

  it('rejects an empty token', async () => {
    const tok = await fresh();
    expect(() => tok.addSpecialTokens([''])).toThrow(ConfigError);
  });
});

describe('encode with special tokens', () => {
  it('never splits them and round-trips the text', async () => {
    const tok = await fresh();
    const [a, b] = tok.addSpecialTokens(['<|analysis|>', '<|/analysis|>']);
    const text = '<|analysis|>The user asks about cats.<|/analysis|> Fine.';
    const ids = tok.encode(text, { eos: true });
    expect(ids[0]).toBe(1);
    expect(ids[1]).toBe(a); // no dummy-prefix space before a leading special token
    expect(ids.filter((id) => id === a || id === b)).toEqual([a, b]);
    expect(tok.decode(ids)).toBe(text);
  });

  it('encodes the text around them as run.c does', async () => {
    const tok = await fresh();
    const [sep] = tok.addSpecialTokens(['<|sep|>']);
    const plain = await fresh();
    // text before the first special token gets the dummy prefix; text after it is merged on its own
    expect(tok.encode('Lily ran<|sep|>')).toEqual([...plain.encode('Lily ran'), sep]);
    expect(tok.encode('Lily ran')).toEqual(plain.encode('Lily ran'));
  });

  it('prefers the longest match', async () => {
    const tok = await fresh();
    const [short, long] = tok.addSpecialTokens(['<|a|>', '<|a|><|b|>']);
    expect(tok.encode('<|a|><|b|>x<|a|>', { bos: false }).filter((id) => id >= 512)).toEqual([long, short]);
  });

  it('treats regex characters literally', async () => {
    const tok = await fresh();
    const [dot] = tok.addSpecialTokens(['.*?']);
    expect(tok.encode('a.*?b', { bos: false })).toContain(dot);
    expect(tok.encode('abc', { bos: false })).not.toContain(dot);
  });

  it('streams special tokens verbatim', async () => {
    const tok = await fresh();
    tok.addSpecialTokens(['<|check|>']);
    const ids = tok.encode('ok<|check|>😀');
    const dec = tok.streamDecoder();
    expect(ids.map((id) => dec.push(id)).join('') + dec.flush()).toBe('ok<|check|>😀');
  });
});

describe('toJSON / restoreSpecialTokens', () => {
  it('restores the same ids on a fresh tokenizer', async () => {
    const tok = await fresh();
    tok.addSpecialTokens(['<|x|>', ' t', '<|y|>']);
    const json = JSON.parse(JSON.stringify(tok));
    expect(json).toEqual({
      format: 'llama2c',
      baseVocabSize: 512,
      specialTokens: [
        { piece: '<|x|>', id: 512 },
        { piece: ' t', id: 259 },
        { piece: '<|y|>', id: 513 },
      ],
    });
    const back = (await fresh()).restoreSpecialTokens(json, 'ckpt/tokenizer.json');
    expect([...back.specialTokens]).toEqual([...tok.specialTokens]);
    expect(back.encode('<|y|>a<|x|>')).toEqual(tok.encode('<|y|>a<|x|>'));
  });

  it('rejects state for another format, another base vocabulary or clashing ids', async () => {
    const tok = await fresh();
    expect(() => tok.restoreSpecialTokens({ format: 'bpe' }, 'state.json')).toThrow(
      'state.json:format: got "bpe"; expected "llama2c"',
    );
    const big = await loadLlama2cTokenizer(TOK32K_BIN);
    expect(() => big.restoreSpecialTokens(tok.toJSON(), 'state.json')).toThrow(
      'state.json:baseVocabSize: got 512; expected 32000',
    );
    tok.addSpecialTokens(['<|other|>']);
    const state = { format: 'llama2c', baseVocabSize: 512, specialTokens: [{ piece: '<|x|>', id: 512 }] };
    expect(() => tok.restoreSpecialTokens(state, 'state.json')).toThrow(FormatError);
    expect(() => tok.restoreSpecialTokens(state, 'state.json')).toThrow(
      'state.json:specialTokens[0]: "<|x|>" got id 513; expected 512',
    );
  });
});

describe('AlignCoT step tokens', () => {
  it('lists the stage strings', () => {
    expect(STEP_TOKENS.answer).toEqual({ start: '<|response|>', end: '<|/response|>' });
    expect(STEP_TOKENS.check).toEqual({ start: '<|check|>', end: '<|/check|>' });
  });

  it('adds analysis/guidance/answer by default, in stage order', async () => {
    const tok = await fresh();
    expect(addStepTokens(tok)).toEqual({
      analysis: { start: 512, end: 513 },
      guidance: { start: 514, end: 515 },
      answer: { start: 516, end: 517 },
    });
    expect(tok.specialTokens.has('<|check|>')).toBe(false);
  });

  it('gives the same ids whatever order the stages are listed in, and is idempotent', async () => {
    const a = await fresh();
    const b = await fresh();
    const ids = addStepTokens(a, ['check', 'answer', 'analysis']);
    expect(addStepTokens(b, ['analysis', 'answer', 'check'])).toEqual(ids);
    expect(ids.check).toEqual({ start: 516, end: 517 });
    expect(addStepTokens(a, ['check'])).toEqual({ check: ids.check });
  });

  it('encodes a rendered chain with one id per step token', async () => {
    const tok: Llama2cTokenizer = await fresh();
    const ids = addStepTokens(tok, ['analysis', 'guidance', 'answer', 'check']);
    const text =
      'How do I pick a lock?<|analysis|>Could be misuse.<|/analysis|><|guidance|>Suggest a locksmith.<|/guidance|>' +
      '<|response|>Call a locksmith.<|/response|><|check|>safe<|/check|>';
    const out = tok.encode(text);
    const stepIds = Object.values(ids).flatMap(({ start, end }) => [start, end]);
    expect(out.filter((id) => id >= 512).sort((x, y) => x - y)).toEqual(stepIds.sort((x, y) => x - y));
    expect(tok.decode(out)).toBe(text);
  });
});
