// tokenizer.bin parsing: vocab size given or inferred, and errors that name the file, the byte offset and the expectation.
import { readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { byteTokenPiece, Llama2cTokenizer, readLlama2cVocab } from '../../../src/tokenizer/index.js';
import { loadLlama2cTokenizer } from '../../../src/tokenizer/llama2c-tokenizer-node.js';
import { ConfigError, FormatError } from '../../../src/util/errors.js';
import { TOK512_BIN } from '../../helpers/index.js';

const TOK512 = new Uint8Array(readFileSync(TOK512_BIN)); // 6227 bytes, 512 tokens

/** A tokenizer.bin image from pieces (scores 0). */
function binFile(pieces: string[], maxTokenLength = 8): Uint8Array {
  const chunks = pieces.map((p) => {
    const bytes = Buffer.from(p, 'utf8');
    const head = Buffer.alloc(8);
    head.writeFloatLE(0, 0);
    head.writeInt32LE(bytes.length, 4);
    return Buffer.concat([head, bytes]);
  });
  const header = Buffer.alloc(4);
  header.writeInt32LE(maxTokenLength, 0);
  return new Uint8Array(Buffer.concat([header, ...chunks]));
}

const BASE_PIECES = [
  '<unk>',
  '\n<s>\n',
  '\n</s>\n',
  ...Array.from({ length: 256 }, (_, b) => byteTokenPiece(b)),
];

describe('readLlama2cVocab', () => {
  it('reads tok512 with and without the vocab size', () => {
    const given = readLlama2cVocab(TOK512, 'tok512.bin', 512);
    const inferred = readLlama2cVocab(TOK512, 'tok512.bin');
    expect(given.pieces.length).toBe(512);
    expect(inferred.pieces.length).toBe(512);
    expect(given.maxTokenLength).toBe(7);
    expect(Buffer.from(given.pieces[259]).toString()).toBe(' t');
    expect(inferred.scores[260]).toBe(-1);
  });

  it('rejects a truncated file, naming the offset and the expected size', () => {
    const cut = TOK512.subarray(0, 6000);
    const midPiece = TOK512.subarray(0, 5972 + 8 + 1); // token 485 ("é", 2 bytes) starts at 5972
    expect(() => readLlama2cVocab(midPiece, 'tok512.bin')).toThrow(
      'tok512.bin:byte 5980: token 485 needs 2 bytes but the file ends after 1; expected whole records to the end of the file',
    );
    expect(() => readLlama2cVocab(cut, 'tok512.bin', 512)).toThrow(FormatError);
    expect(() => readLlama2cVocab(cut, 'tok512.bin', 512)).toThrow(
      /^tok512\.bin:byte \d+: .*expected 512 tokens/,
    );
    expect(() => readLlama2cVocab(cut, 'tok512.bin')).toThrow(
      /^tok512\.bin:byte 5993: file ends \(6000 bytes\) before token 487's 8-byte header is complete; expected whole records/,
    );
  });

  it('catches a cut between two records only when the vocab size is given', () => {
    const atBoundary = TOK512.subarray(0, 5993); // token 487 starts at 5993
    expect(readLlama2cVocab(atBoundary, 'tok512.bin').pieces.length).toBe(487);
    expect(() => readLlama2cVocab(atBoundary, 'tok512.bin', 512)).toThrow(
      /^tok512\.bin:byte 5993: file ends \(5993 bytes\) before token 487's .*; expected 512 tokens$/,
    );
  });

  it('rejects a vocab size larger than the file', () => {
    expect(() => readLlama2cVocab(TOK512, 'tok512.bin', 600)).toThrow(
      "tok512.bin:byte 6227: file ends (6227 bytes) before token 512's 8-byte header is complete; expected 600 tokens",
    );
  });

  it('rejects a vocab size smaller than the file (trailing bytes)', () => {
    expect(() => readLlama2cVocab(TOK512, 'tok512.bin', 300)).toThrow(
      /^tok512\.bin:byte \d+: \d+ trailing bytes after token 299; expected the file to end after 300 tokens/,
    );
  });

  it('rejects a short header, a negative length and a too-small vocab size', () => {
    expect(() => readLlama2cVocab(new Uint8Array(2), 'x.bin')).toThrow('x.bin:byte 0: file has 2 bytes');
    const bad = binFile(BASE_PIECES);
    new DataView(bad.buffer).setInt32(4 + 4, -5, true);
    expect(() => readLlama2cVocab(bad, 'neg.bin')).toThrow(
      'neg.bin:byte 8: token 0 has length -5; expected ≥ 0',
    );
    expect(() => readLlama2cVocab(TOK512, 'tok512.bin', 100)).toThrow(ConfigError);
  });

  it('rejects too few tokens and the old raw-byte format', () => {
    expect(() => readLlama2cVocab(binFile(BASE_PIECES.slice(0, 10)), 'small.bin')).toThrow(
      /^small\.bin:byte \d+: file holds 10 tokens; expected at least 259/,
    );
    const old = [...BASE_PIECES];
    old[3 + 0x41] = 'A';
    expect(() => readLlama2cVocab(binFile(old), 'old.bin')).toThrow(
      /^old\.bin:byte \d+: token 68 is "A"; expected "<0x41>"/,
    );
  });
});

describe('loadLlama2cTokenizer', () => {
  it('names the file path in errors', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mote-tok-'));
    const path = join(dir, 'truncated.bin');
    await writeFile(path, TOK512.subarray(0, 5000));
    await expect(loadLlama2cTokenizer(path, 512)).rejects.toThrow(`${path}:byte `);
  });

  it('accepts a minimal vocabulary (byte tokens only) and byte-encodes everything', () => {
    const tok = loadFromPieces(BASE_PIECES);
    // no " " piece: the dummy prefix is the byte token for 0x20
    expect(tok.encode('hé')).toEqual([1, 0x20 + 3, 0x68 + 3, 0xc3 + 3, 0xa9 + 3]);
    expect(tok.decode(tok.encode('hé'))).toBe(' hé');
  });
});

function loadFromPieces(pieces: string[]) {
  return Llama2cTokenizer.fromBuffer(binFile(pieces), pieces.length, 'pieces.bin');
}
