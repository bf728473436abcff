// Fault injection, class 5: untrusted text reaching the terminal. Model output with control characters (a tokenizer
// whose pieces for ".", "," and " the" carry ESC and BEL: what a model writes at high temperature as byte tokens),
// a prompt file whose ids and questions carry them, and an endpoint whose error message does. Everything printed is
// escaped (cli/terminal-text.ts); the files written keep the raw text.

import { readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { terminalJson, terminalSafe } from '../../src/cli/terminal-text.js';
import { TOK512_BIN } from '../helpers/index.js';
import { jsonLines, mote, tempDir } from './helpers.js';

const ESC = '\x1b';
/** What the injected pieces add: clear the screen, ring the bell. */
const SEQUENCE = `${ESC}[2J\x07`;

describe('terminalSafe / terminalJson', () => {
  it('escapes what a terminal acts on; keeps newlines and tabs (or escapes them on one line)', () => {
    expect(terminalSafe(`a${ESC}[31mred\x07\x08\r\x9b\u202e\x7f\x00\tb\nc`)).toBe(
      'a\\x1b[31mred\\x07\\x08\\r\\x9b\\u202e\\x7f\\x00\tb\nc',
    );
    expect(terminalSafe('id\nforged line\t', { oneLine: true })).toBe('id\\nforged line\\t');
    expect(terminalSafe('plain text, é ü 中文 🙂')).toBe('plain text, é ü 中文 🙂');
    const value = { text: `x${ESC}y\x9b\u202e` };
    const json = terminalJson(value);
    for (const c of [ESC, '\x9b', '\u202e']) expect(json.includes(c)).toBe(false);
    expect(JSON.parse(json)).toEqual(value); // still the same data
  });
});

/** tok512 with SEQUENCE appended to the pieces of '.', ',' and ' the' (ids 426, 432, 265). */
async function hostileTokenizer(dir: string): Promise<string> {
  const b = await readFile(TOK512_BIN);
  const parts: Buffer[] = [b.subarray(0, 4)];
  let off = 4;
  for (let id = 0; id < 512; id++) {
    const len = b.readInt32LE(off + 4);
    let piece = b.subarray(off + 8, off + 8 + len);
    if (id === 265 || id === 426 || id === 432) piece = Buffer.concat([piece, Buffer.from(SEQUENCE)]);
    const head = Buffer.alloc(8);
    head.writeFloatLE(b.readFloatLE(off), 0);
    head.writeInt32LE(piece.length, 4);
    parts.push(head, piece);
    off += 8 + len;
  }
  const path = join(dir, 'hostile-tok.bin');
  await writeFile(path, Buffer.concat(parts));
  return path;
}

const raw = (s: string) => s.includes(ESC) || s.includes('\x07');

describe('printed text is escaped, files keep it raw', () => {
  it('model output (generate, chat, generate --prompts), ids from a prompt file, an error quoting a path', async () => {
    const dir = await tempDir('terminal');
    const tokenizer = await hostileTokenizer(dir);
    const prompts = join(dir, 'q.jsonl');
    await writeFile(
      prompts,
      `${JSON.stringify({ id: `q1${ESC}]0;owned\x07`, question: 'Once upon a time' })}\n`,
    );
    const model = ['--tokenizer', tokenizer, '--temperature', '0', '--backend', 'wasm'];
    const out = join(dir, 'results.jsonl');
    const [plain, chat, file, missing] = await Promise.all([
      mote(['generate', '--prompt', 'Once upon a time', '--max-tokens', '40', ...model]),
      mote(['chat', '--max-tokens', '120', ...model], { input: 'Once upon a time\n/quit\n' }),
      mote(['generate', '--prompts', prompts, '--out', out, '--max-tokens', '120', ...model]),
      mote(['eval', '--prompts', join(dir, `nope${ESC}[2J.jsonl`), '--out', join(dir, 'eval')]),
    ]);
    for (const r of [plain, chat, file]) {
      expect(r.code, r.stderr).toBe(0);
      expect(raw(r.stdout) || raw(r.stderr)).toBe(false);
    }
    expect(plain.stdout).toMatch(/^Once upon a time.*\\x1b\[2J\\x07/);
    expect(chat.stdout).toContain('\\x1b[2J\\x07');
    expect(file.stderr).toContain('q1\\x1b]0;owned\\x07:'); // the id in the progress line
    const [line] = await jsonLines(out);
    expect(line.id).toBe(`q1${ESC}]0;owned\x07`); // the file keeps the raw text
    expect(JSON.stringify(line.stages)).toContain('\\u001b[2J\\u0007');
    expect(missing.code).toBe(1);
    expect(raw(missing.stderr)).toBe(false);
    expect(missing.stderr).toContain('nope\\x1b[2J.jsonl');
  });

  it('an endpoint error message and prompt ids in the chain builder summary; the JSON report stays parseable', async () => {
    const dir = await tempDir('terminal-endpoint');
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: `bad request${ESC}[2J${ESC}]0;title\x07` } }));
      });
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    const port = (server.address() as AddressInfo).port;
    const prompts = join(dir, 'q.jsonl');
    await writeFile(prompts, `${JSON.stringify({ id: `p${ESC}[31m1`, question: 'Hi?' })}\n`);
    try {
      const r = await mote([
        'aligncot',
        'build',
        '--prompts',
        prompts,
        '--format',
        'jsonl',
        '--generator',
        'openai',
        '--endpoint',
        `http://127.0.0.1:${port}/v1`,
        '--model',
        'm',
        '--out',
        join(dir, 'chains.jsonl'),
        '--no-progress',
      ]);
      expect(r.code).toBe(2);
      expect(raw(r.stdout) || raw(r.stderr)).toBe(false);
      expect(r.stderr).toContain('error p\\x1b[31m1: ');
      expect(r.stderr).toContain('bad request\\x1b[2J\\x1b]0;title\\x07');
      const report = JSON.parse(r.stdout);
      expect(report.errors[0].id).toBe(`p${ESC}[31m1`);
    } finally {
      server.close();
    }
  });
});
