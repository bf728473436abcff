// The one JSONL reader: real files in a temp dir (CRLF, blank lines, gzip, truncated gzip, unreadable paths),
// text in memory, the line cap applied before parsing, and the error wording every caller relies on.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ConfigError, FileError, FormatError } from '../../../src/util/errors.js';
import { DEFAULT_MAX_LINE_BYTES, JsonlError, parseJsonl } from '../../../src/util/jsonl.js';
import { readJsonl } from '../../../src/util/jsonl-node.js';
import { readTextFile } from '../../../src/util/text-file.js';
import { ROOT } from '../../helpers/index.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mote-jsonl-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
afterEach(() => {
  vi.restoreAllMocks();
});

/** The message JSON.parse gives for `text` (the reader quotes it). */
function jsonMessage(text: string): string {
  try {
    JSON.parse(text);
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error(`${text} is valid JSON`);
}

describe('readJsonl on files', () => {
  it('splits LF and CRLF lines, skips and counts blank lines, drops a BOM', async () => {
    const path = join(dir, 'mixed.jsonl');
    await writeFile(path, '\uFEFF{"a":1}\r\n\r\n  \t\n{"a":"x\\r"}\n{"b":[2]}\r\n');
    const r = await readJsonl(path);
    expect(r.records).toEqual([
      { line: 1, value: { a: 1 } },
      { line: 4, value: { a: 'x\r' } },
      { line: 5, value: { b: [2] } },
    ]);
    expect(r).toMatchObject({ errors: [], lines: 5, blank: 2, tornTail: false });
  });

  it('reads gzip by name or by magic bytes', async () => {
    const text = '{"n":1}\n\n{"n":2}\n';
    await writeFile(join(dir, 'z.jsonl.gz'), gzipSync(text));
    await writeFile(join(dir, 'z-no-ext.jsonl'), gzipSync(text));
    for (const name of ['z.jsonl.gz', 'z-no-ext.jsonl']) {
      const r = await readJsonl(join(dir, name));
      expect(r.records.map((x) => [x.line, x.value.n])).toEqual([
        [1, 1],
        [3, 2],
      ]);
    }
  });

  it('a truncated or corrupt .gz names the file and the cause', async () => {
    const path = join(dir, 'cut.jsonl.gz');
    const whole = gzipSync('{"text":"hello"}\n'.repeat(200));
    await writeFile(path, whole.subarray(0, whole.length >> 1));
    await expect(readJsonl(path)).rejects.toThrow(FormatError);
    await expect(readJsonl(path)).rejects.toThrow(
      `${path}: truncated or corrupt gzip data (unexpected end of file)`,
    );
    const notGzip = join(dir, 'plain.jsonl.gz');
    await writeFile(notGzip, '{"a":1}\n');
    await expect(readJsonl(notGzip)).rejects.toThrow(
      `${notGzip}: truncated or corrupt gzip data (incorrect header check)`,
    );
  });

  it('an unreadable path names the file and the system error code', async () => {
    const missing = join(dir, 'nope.jsonl');
    const e = await readJsonl(missing).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(FileError);
    expect((e as FileError).code).toBe('ENOENT');
    expect((e as Error).message).toBe(`${missing}: cannot read (ENOENT: no such file or directory)`);
    const sub = join(dir, 'a-directory.jsonl');
    await mkdir(sub);
    await expect(readTextFile(sub)).rejects.toThrow(
      `${sub}: cannot read (EISDIR: illegal operation on a directory)`,
    );
  });

  it('bad JSON at line N: the error names the file, the line and the JSON error', async () => {
    const path = join(dir, 'bad.jsonl');
    await writeFile(path, '{"a":1}\n\n{"a":2,}\n{"a":3}\n');
    await expect(readJsonl(path)).rejects.toThrow(
      `${path}:3: expected a JSON object, got invalid JSON (${jsonMessage('{"a":2,}')})`,
    );
  });

  it('a 50 MB line fails on the cap without being parsed; with collect the lines after it are read', async () => {
    const path = join(dir, 'huge.jsonl');
    const huge = `{"text":"${'x'.repeat(50 * 1024 * 1024)}"}`; // valid JSON: only the cap can reject it
    await writeFile(path, `{"n":1}\n${huge}\n{"n":3}\n`);
    const parse = vi.spyOn(JSON, 'parse');
    await expect(readJsonl(path)).rejects.toThrow(
      `${path}:2: line of ${huge.length} bytes exceeds the 1 MiB limit`,
    );
    const r = await readJsonl(path, { onError: 'collect' });
    expect(r.records.map((x) => x.value.n)).toEqual([1, 3]);
    expect(r.errors).toEqual([
      { file: path, line: 2, reason: `line of ${huge.length} bytes exceeds the 1 MiB limit` },
    ]);
    expect(parse.mock.calls.filter(([s]) => s.length > DEFAULT_MAX_LINE_BYTES)).toEqual([]);
  });

  it('Node fs and zlib are imported lazily (a browser bundle may include the reader)', async () => {
    for (const file of ['jsonl.ts', 'text-file.ts', 'jsonl-log.ts']) {
      const source = await readFile(join(ROOT, 'src/util', file), 'utf8');
      expect(source).not.toMatch(/^import .*['"](node:)?(fs|zlib|path)(\/promises)?['"]/m);
    }
  });
});

describe('parseJsonl on text in memory', () => {
  it('reads the same records as from a file', () => {
    const r = parseJsonl('{"a":1}\r\n\n{"a":2}', 'mem.jsonl');
    expect(r.records).toEqual([
      { line: 1, value: { a: 1 } },
      { line: 3, value: { a: 2 } },
    ]);
    expect(r).toMatchObject({ lines: 3, blank: 1 });
    expect(parseJsonl('', 'e.jsonl')).toMatchObject({ records: [], lines: 0, blank: 0 });
  });

  it('counts UTF-8 bytes for the cap: at the cap is accepted, one byte over is not', () => {
    // "é" is 2 bytes, "😀" (a surrogate pair) 4 bytes; Buffer.byteLength is the reference
    const line = '{"t":"é😀é"}';
    const bytes = Buffer.byteLength(line);
    expect(bytes).toBe(line.length + 1 + 1 + 2); // 2 é (+1 each), 😀 (2 units → 4 bytes)
    expect(parseJsonl(line, 'u.jsonl', { maxLineBytes: bytes }).records).toHaveLength(1);
    expect(() => parseJsonl(`\n${line}`, 'u.jsonl', { maxLineBytes: bytes - 1 })).toThrow(
      `u.jsonl:2: line of ${bytes} bytes exceeds the ${bytes - 1}-byte limit`,
    );
    expect(() => parseJsonl(`{"t":"${'y'.repeat(5000)}"}`, 'k.jsonl', { maxLineBytes: 4096 })).toThrow(
      'k.jsonl:1: line of 5008 bytes exceeds the 4 KiB limit',
    );
  });

  it('counts the same bytes without Node’s Buffer (as in a browser)', async () => {
    const lines = ['{"t":"é😀é"}', '{"t":"\ud800x"}', `{"t":"${'ü'.repeat(700)}"}`]; // lone surrogate → 3 bytes
    const bytes = lines.map((l) => Buffer.byteLength(l));
    vi.resetModules();
    vi.stubGlobal('Buffer', undefined);
    try {
      const browser = await import('../../../src/util/jsonl.js');
      for (const [i, line] of lines.entries()) {
        expect(() => browser.parseJsonl(line, 'b.jsonl', { maxLineBytes: bytes[i] })).not.toThrow();
        expect(() => browser.parseJsonl(line, 'b.jsonl', { maxLineBytes: bytes[i] - 1 })).toThrow(
          `b.jsonl:1: line of ${bytes[i]} bytes exceeds`,
        );
      }
    } finally {
      vi.unstubAllGlobals();
      vi.resetModules();
    }
  });

  it('a line that is JSON but not an object names its kind, never its text', () => {
    const secret = 'how to make something dangerous';
    const r = parseJsonl(`[1]\n${JSON.stringify(secret)}\n3\nnull\n`, 'k.jsonl', { onError: 'collect' });
    expect(r.errors.map((e) => `${e.line}: ${e.reason}`)).toEqual([
      '1: expected a JSON object, got an array',
      '2: expected a JSON object, got a string',
      '3: expected a JSON object, got 3',
      '4: expected a JSON object, got null',
    ]);
  });

  it("'collect' keeps going and returns every bad line; 'throw' stops at the first", () => {
    const text = '{oops\n{"ok":1}\n[]\n{"ok":2}\n{"x":';
    const r = parseJsonl(text, 'c.jsonl', { onError: 'collect' });
    expect(r.records.map((x) => x.line)).toEqual([2, 4]);
    expect(r.errors.map((e) => [e.file, e.line])).toEqual([
      ['c.jsonl', 1],
      ['c.jsonl', 3],
      ['c.jsonl', 5],
    ]);
    expect(() => parseJsonl(text, 'c.jsonl')).toThrow(
      /^c\.jsonl:1: expected a JSON object, got invalid JSON/,
    );
  });

  it('a torn last line (no line break) is skipped only with ignoreTornTail', () => {
    const torn = '{"step":1}\n{"step":2}\n{"ste';
    expect(parseJsonl(torn, 'm.jsonl', { ignoreTornTail: true })).toMatchObject({
      records: [{ line: 1 }, { line: 2 }],
      tornTail: true,
    });
    expect(() => parseJsonl(torn, 'm.jsonl')).toThrow(
      /^m\.jsonl:3: expected a JSON object, got invalid JSON/,
    );
    // a bad line that is not the last (it has its line break) is an error even with ignoreTornTail
    expect(() => parseJsonl(`${torn}\n`, 'm.jsonl', { ignoreTornTail: true })).toThrow(/^m\.jsonl:3: /);
  });

  it('appends the caller’s hint to an invalid-JSON reason', () => {
    const hint = (content: string, line: number) => (line === 1 && content.includes(',') ? ' (CSV?)' : '');
    expect(() => parseJsonl('a,b\n1,2\n', 'h.jsonl', { invalidJsonHint: hint })).toThrow(
      `h.jsonl:1: expected a JSON object, got invalid JSON (${jsonMessage('a,b')}) (CSV?)`,
    );
  });

  it('checks its options', () => {
    expect(() => parseJsonl('', 'o.jsonl', { maxLineBytes: 0 })).toThrow(ConfigError);
    expect(() => parseJsonl('', 'o.jsonl', { maxLineBytes: 0 })).toThrow(
      'invalid config: maxLineBytes = 0; expected a positive integer',
    );
    expect(() => parseJsonl('', 'o.jsonl', { onError: 'skip' as never })).toThrow(/onError = "skip"/);
  });
});

describe('JsonlError', () => {
  it('names the first bad line, counts the rest and lists them all', () => {
    const errors = [
      { file: 'f.jsonl', line: 2, reason: 'answer: expected a string' },
      { file: 'f.jsonl', line: 2, reason: 'id: expected a string' },
      { file: 'f.jsonl', line: 7, reason: 'expected a JSON object, got an array' },
    ];
    const e = new JsonlError(errors, 2);
    expect(e).toBeInstanceOf(FormatError);
    expect(e.message).toBe('f.jsonl:2: answer: expected a string (2 more error(s); 2 bad line(s) in all)');
    expect([e.file, e.where]).toEqual(['f.jsonl', '2']);
    expect(e.errors).toEqual(errors);
    expect(new JsonlError(errors.slice(0, 1), 1).message).toBe('f.jsonl:2: answer: expected a string');
  });
});
