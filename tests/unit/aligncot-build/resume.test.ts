// Resume: a run interrupted half-way and rerun loses nothing and duplicates nothing; a torn last line (a
// crash mid-write) is cut off; a bad complete line stops the run; an unreachable endpoint stops it clearly.
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildChains,
  createOpenAIGenerator,
  GeneratorError,
  type Prompt,
} from '../../../src/aligncot/build/index.js';
import { FormatError } from '../../../src/util/errors.js';
import { closedPortUrl, type FakeServer, startFakeServer } from './fake-server.js';
import { readChains, scripted, tempDir } from './helpers.js';

let server: FakeServer;
beforeAll(async () => {
  server = await startFakeServer({ delayMs: 10 });
});
afterAll(() => server.close());

const generator = (endpoint = server.url) =>
  createOpenAIGenerator({
    endpoint,
    model: 'm',
    timeoutMs: 2000,
    retry: { retries: 2, baseDelayMs: 5, maxDelayMs: 50 },
  });
const SCRIPTS = ['checks=S', 'checks=U,S', 'checks=U,U,S', 'checks=U,U,U'];
const promptSet = (tag: string, n: number): Prompt[] =>
  Array.from({ length: n }, (_, i) => scripted(`${tag}${i}`, SCRIPTS[i % SCRIPTS.length]));

describe('resume', () => {
  it('a run aborted after k chains and rerun ends with every id exactly once', async () => {
    const out = join(await tempDir(), 'chains.jsonl');
    const prompts = promptSet('k', 24);
    const stop = new AbortController();
    const first = await buildChains({
      prompts,
      out,
      generator: generator(),
      onFail: 'keep',
      concurrency: 4,
      signal: stop.signal,
      onEvent: (e) => {
        if (e.type === 'chain' && e.done === 7) stop.abort();
      },
    });
    const afterFirst = await readChains(out);
    expect(first.interrupted).toBe(true);
    expect(afterFirst.length).toBeGreaterThanOrEqual(7);
    expect(afterFirst.length).toBeLessThan(24);
    expect(first.remaining).toBe(24 - afterFirst.length);
    const requestsBefore = server.requests.length;

    const second = await buildChains({
      prompts,
      out,
      generator: generator(),
      onFail: 'keep',
      concurrency: 4,
    });
    const ids = (await readChains(out)).map((c) => c.id);
    expect(second.resumed).toBe(afterFirst.length);
    expect(second.interrupted).toBe(false);
    expect(second.remaining).toBe(0);
    expect(ids).toHaveLength(24);
    expect([...ids].sort()).toEqual(prompts.map((p) => p.id).sort());
    // the rerun asked nothing about the chains the first run finished
    const rerunKeys = new Set(server.requests.slice(requestsBefore).map((r) => r.key));
    expect(afterFirst.filter((c) => rerunKeys.has(c.id))).toEqual([]);
    expect(second.stats?.chains).toBe(24);
    // prompts interrupted in flight start over in the rerun (nothing of them was written)
    const written = (r: typeof first) => r.byLength[1] + r.byLength[2] + r.byLength[3];
    expect(written(first) + written(second)).toBe(24);
  });

  it('cuts off a torn last line and rebuilds that chain', async () => {
    const out = join(await tempDir(), 'chains.jsonl');
    const prompts = promptSet('t', 5);
    await buildChains({ prompts, out, generator: generator(), limit: 3, onFail: 'keep' });
    const torn = JSON.stringify((await readChains(out))[2]).slice(0, 40);
    const text = await readFile(out, 'utf8');
    await writeFile(out, `${text.split('\n').slice(0, 2).join('\n')}\n${torn}`); // chain 3 half-written
    const report = await buildChains({ prompts, out, generator: generator(), onFail: 'keep' });
    expect(report.truncatedBytes).toBe(Buffer.byteLength(torn));
    expect(report.resumed).toBe(2);
    const ids = (await readChains(out)).map((c) => c.id);
    expect([...ids].sort()).toEqual(['t0', 't1', 't2', 't3', 't4']);
  });

  it('keeps a last line that is a whole chain without its newline', async () => {
    const out = join(await tempDir(), 'chains.jsonl');
    const prompts = promptSet('w', 3);
    await buildChains({ prompts, out, generator: generator(), limit: 2 });
    await writeFile(out, (await readFile(out, 'utf8')).trimEnd());
    const report = await buildChains({ prompts, out, generator: generator() });
    expect(report).toMatchObject({ truncatedBytes: 0, resumed: 2 });
    expect((await readChains(out)).map((c) => c.id)).toEqual(['w0', 'w1', 'w2']);
  });

  it('refuses to resume over a bad complete line, naming file and line', async () => {
    const out = join(await tempDir(), 'chains.jsonl');
    await buildChains({ prompts: promptSet('x', 1), out, generator: generator() });
    await appendFile(out, '{"id": "x9", "question": "q"}\n');
    const run = buildChains({ prompts: promptSet('x', 2), out, generator: generator() });
    await expect(run).rejects.toThrow(FormatError);
    await expect(run).rejects.toThrow(
      /chains\.jsonl:2: answer: expected a non-empty string, got nothing \(missing\); cannot resume/,
    );
  });
});

describe('options', () => {
  it('rejects prompts with duplicate ids (resume goes by id) and a signal aborted before the start does nothing', async () => {
    const out = join(await tempDir(), 'chains.jsonl');
    const twice = [scripted('dup'), scripted('dup')];
    await expect(buildChains({ prompts: twice, out, generator: generator() })).rejects.toThrow(
      'invalid config: prompts = "dup"; expected prompts with unique ids (resume goes by id)',
    );
    const report = await buildChains({
      prompts: promptSet('a', 2),
      out,
      generator: generator(),
      signal: AbortSignal.abort(),
    });
    expect(report).toMatchObject({ interrupted: true, remaining: 2 });
    expect(await readChains(out)).toEqual([]);
  });
});

describe('unreachable endpoint', () => {
  it('stops the run with a clear error after the retries', async () => {
    const url = await closedPortUrl();
    const out = join(await tempDir(), 'chains.jsonl');
    const run = buildChains({ prompts: promptSet('n', 3), out, generator: generator(url) });
    await expect(run).rejects.toThrow(GeneratorError);
    await expect(run).rejects.toThrow(
      /^cannot reach http:\/\/127\.0\.0\.1:\d+\/v1\/chat\/completions: network error \(ECONNREFUSED\) after 3 attempt\(s\)$/,
    );
    expect(await readChains(out)).toEqual([]);
  });
});
