// GPT-2 byte ↔ unicode map and pre-tokenizer split, against values from openai/gpt-2 encoder.py.
import { describe, expect, it } from 'vitest';
import { byteToChar, splitGpt2 } from '../../../src/tokenizer/index.js';
import { ROUND_TRIP } from './corpus.js';

describe('byte-level alphabet', () => {
  it('maps the 256 bytes to 256 distinct printable characters', () => {
    const chars = Array.from({ length: 256 }, (_, b) => byteToChar(b));
    expect(new Set(chars).size).toBe(256);
    // printable Latin-1 maps to itself; the rest to U+0100.. in byte order (GPT-2's `Ġ` space, `Ċ` newline)
    expect([byteToChar(0x41), byteToChar(0x7e), byteToChar(0xa1), byteToChar(0xff)]).toEqual([
      'A',
      '~',
      '¡',
      'ÿ',
    ]);
    expect([
      byteToChar(0x00),
      byteToChar(0x0a),
      byteToChar(0x20),
      byteToChar(0x7f),
      byteToChar(0xad),
    ]).toEqual(['Ā', 'Ċ', 'Ġ', 'ġ', 'Ń']);
  });
});

describe('splitGpt2', () => {
  it('splits contractions, letters, numbers, punctuation and whitespace like GPT-2', () => {
    expect(splitGpt2("Hello world's  test 123!! x\n\ny")).toEqual([
      'Hello',
      ' world',
      "'s",
      ' ',
      ' test',
      ' 123',
      '!!',
      ' x',
      '\n', // a whitespace run leaves its last character behind; only a space can prefix the next word
      '\n',
      'y',
    ]);
    expect(splitGpt2('naïve café  ')).toEqual(['naïve', ' café', '  ']);
    expect(splitGpt2('')).toEqual([]);
  });

  it.each(ROUND_TRIP)('keeps every character of %j', (text) => {
    expect(splitGpt2(text).join('')).toBe(text);
  });
});
