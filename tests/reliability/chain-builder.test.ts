// Fault injection, class 6: the chain builder against a loopback server that resets connections. A request whose
// last retry meets a connection reset (the socket destroyed before the reply, or in the middle of its body) fails
// its prompt like any other failed prompt; the build goes on, writes the other chains and prints its summary. A
// server that cannot be reached at all still stops the build (tests/unit/aligncot-build).

import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildChains, createOpenAIGenerator } from '../../src/aligncot/build/index.js';
import { jsonLines, mote, tempDir } from './helpers.js';

let server: Server;
let url: string;
const seen: Record<string, number> = {};

/** Replies "SAFE" to everything (a direct answer that passes its check), except: RESET-BEFORE destroys the socket
 * before any reply, RESET-DURING after the headers and half a body; RESET-ONCE resets only its first request. */
beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const key = /RESET-\w+/.exec(body)?.[0] ?? 'ok';
      seen[key] = (seen[key] ?? 0) + 1;
      if (key === 'RESET-BEFORE' || (key === 'RESET-ONCE' && seen[key] === 1)) return req.socket.destroy();
      const reply = JSON.stringify({ choices: [{ message: { role: 'assistant', content: 'SAFE' } }] });
      if (key === 'RESET-DURING') {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(reply.length) });
        res.write(reply.slice(0, 10));
        return setTimeout(() => req.socket.destroy(), 20);
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(reply);
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});
afterAll(() => new Promise<void>((ok) => server.close(() => ok())));

const prompts = [
  { id: 'a', question: 'Name a fruit.' },
  { id: 'before', question: 'Say hi. RESET-BEFORE' },
  { id: 'b', question: 'Sky color?' },
  { id: 'during', question: 'Count to three. RESET-DURING' },
  { id: 'once', question: 'Say yes. RESET-ONCE' },
  { id: 'c', question: 'Say no.' },
];

describe('connection resets on the last retry', () => {
  it('fail their prompt only; the build writes the rest and reports them (library)', async () => {
    const dir = await tempDir('resets');
    const out = join(dir, 'chains.jsonl');
    const generator = createOpenAIGenerator({
      endpoint: url,
      model: 'm',
      retry: { retries: 1, baseDelayMs: 1, maxDelayMs: 5 },
    });
    const report = await buildChains({
      prompts: prompts.map((p, i) => ({ ...p, source: { file: 'inline', line: i + 1 } })),
      out,
      generator,
      concurrency: 2,
      stats: false,
    });
    expect(report.outcomes.error).toBe(2);
    expect(report.errors.map((e) => e.id).sort()).toEqual(['before', 'during']);
    for (const e of report.errors)
      expect(e.message).toMatch(
        /network error \((UND_ERR_SOCKET|ECONNRESET|UND_ERR_\w+)\) from .* after 2 attempt\(s\)/,
      );
    expect(report.remaining).toBe(2); // a rerun retries them
    expect((await jsonLines(out)).map((c) => c.id).sort()).toEqual(['a', 'b', 'c', 'once']);
    expect(report.requestRetries).toBeGreaterThanOrEqual(3); // before, during (one each) and once
  });

  it('the CLI prints its summary and exits 2 (some prompts failed), not 1', async () => {
    const dir = await tempDir('resets-cli');
    const file = join(dir, 'q.jsonl');
    await writeFile(file, `${prompts.map((p) => JSON.stringify(p)).join('\n')}\n`);
    const r = await mote([
      'aligncot',
      'build',
      '--prompts',
      file,
      '--format',
      'jsonl',
      '--generator',
      'openai',
      '--endpoint',
      url,
      '--model',
      'm',
      '--out',
      join(dir, 'chains.jsonl'),
      '--request-retries',
      '1',
      '--no-progress',
    ]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/aligncot build: 6 prompts, 0 already done, 6 processed/);
    expect(r.stderr).toMatch(/outcomes: .*error 2/);
    expect(r.stderr).toMatch(/error before: network error \(\w+\)/);
    expect(JSON.parse(r.stdout).remaining).toBe(2);
  });
});
