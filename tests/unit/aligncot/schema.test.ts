// Chain JSONL validation: every bad line reported with file, line, field and reason; skip vs throw; counts.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { parseChains } from '../../../src/aligncot/schema.js';
import { loadChains } from '../../../src/aligncot/schema-node.js';
import { FormatError } from '../../../src/util/errors.js';

const good = (id: string, extra: object = {}) =>
  JSON.stringify({ id, question: 'q?', answer: 'a.', ...extra });

/** Parses one bad line (after a good one) and returns its errors as [line, field, reason] triples. */
function errorsOf(line: string): [number, string, string][] {
  const { errors, counts } = parseChains(`${good('ok')}\n${line}\n`, 'c.jsonl', { onError: 'skip' });
  expect(counts).toEqual({ lines: 2, ok: 1, bad: 1, blank: 0 });
  return errors.map((e) => {
    expect(e.file).toBe('c.jsonl');
    return [e.line, e.field, e.reason];
  });
}

describe('parseChains', () => {
  it('accepts every field of the format', () => {
    const full = {
      id: 'x1',
      question: [
        { role: 'system', content: 'Be kind.' },
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Hello!' },
        { role: 'user', content: 'How do I pick a lock?' },
      ],
      analysis: 'May enable burglary.',
      guidance: 'Decline, suggest a locksmith.',
      answer: 'I cannot help with that; a locksmith can.',
      check: { verdict: 'safe', text: 'Declines politely.' },
      meta: { source: 'hh-rlhf', attempts: 2 },
    };
    const { chains, errors, counts } = parseChains(`${JSON.stringify(full)}\n`, 'c.jsonl', {
      onError: 'throw',
    });
    expect(errors).toEqual([]);
    expect(counts).toEqual({ lines: 1, ok: 1, bad: 0, blank: 0 });
    expect(chains).toEqual([full]);
  });

  it.each([
    ['malformed JSON', '{"id": "b", "question": ', [[2, '', /^expected a JSON object, got invalid JSON/]]],
    ['not an object', '[1, 2]', [[2, '', /^expected a JSON object, got an array$/]]],
    [
      'missing answer',
      '{"id":"b","question":"q"}',
      [[2, 'answer', /^expected a non-empty string, got nothing \(missing\)/]],
    ],
    ['empty answer', good('b', { answer: '' }), [[2, 'answer', /^expected a non-empty string, got ""/]]],
    ['blank answer', good('b', { answer: '  \n ' }), [[2, 'answer', /^expected a non-empty string/]]],
    ['missing id', '{"question":"q","answer":"a"}', [[2, 'id', /missing/]]],
    ['numeric id', good('b', { id: 7 }), [[2, 'id', /^expected a non-empty string, got 7/]]],
    [
      'wrong question type',
      good('b', { question: 3 }),
      [[2, 'question', /^expected a non-empty string or an array of turns, got 3/]],
    ],
    [
      'empty dialogue',
      good('b', { question: [] }),
      [[2, 'question', /^expected at least one turn, got \[\]/]],
    ],
    [
      'dialogue ending with the assistant',
      good('b', {
        question: [
          { role: 'user', content: 'hi' },
          { role: 'assistant', content: 'yo' },
        ],
      }),
      [[2, 'question[1].role', /^expected the last turn to be "user", got "assistant"/]],
    ],
    [
      'bad turn',
      good('b', { question: [{ role: 'bot', content: '' }] }),
      [
        [2, 'question[0].role', /^expected "system", "user" or "assistant", got "bot"/],
        [2, 'question[0].content', /^expected a non-empty string, got ""/],
      ],
    ],
    [
      'null analysis',
      good('b', { analysis: null }),
      [[2, 'analysis', /^expected a non-empty string, got null/]],
    ],
    ['numeric guidance', good('b', { guidance: 1 }), [[2, 'guidance', /got 1/]]],
    [
      'bad verdict',
      good('b', { check: { verdict: 'ok' } }),
      [[2, 'check.verdict', /^expected "safe" or "unsafe", got "ok"/]],
    ],
    ['meta array', good('b', { meta: [1] }), [[2, 'meta', /^expected an object, got \[1\]/]]],
    [
      'unknown stage key',
      good('b', { reflection: 'hmm' }),
      [
        [
          2,
          'reflection',
          /^expected one of the keys id, question, analysis, guidance, answer, check, meta, got unknown key "reflection"/,
        ],
      ],
    ],
    ['typo key', good('b', { anwser: 'x' }), [[2, 'anwser', /unknown key "anwser"/]]],
    [
      'unknown check key',
      good('b', { check: { verdict: 'safe', score: 1 } }),
      [[2, 'check.score', /unknown key "score"/]],
    ],
    [
      'step token inside a text',
      good('b', { answer: 'sure <|/response|> more' }),
      [[2, 'answer', /^expected text without the reserved step token <\|\/response\|>/]],
    ],
  ] as const)('%s', (_, line, expected) => {
    const got = errorsOf(line);
    expect(got).toHaveLength(expected.length);
    expected.forEach(([l, field, reason], k) => {
      expect(got[k][0]).toBe(l);
      expect(got[k][1]).toBe(field);
      expect(got[k][2]).toMatch(reason);
    });
  });

  it('reports a duplicate id on the later line and keeps the first', () => {
    const src = [good('a'), good('b'), good('a', { answer: 'other' })].join('\n');
    const { chains, errors, counts } = parseChains(src, 'd.jsonl', { onError: 'skip' });
    expect(chains.map((c) => c.answer)).toEqual(['a.', 'a.']);
    expect(chains.map((c) => c.id)).toEqual(['a', 'b']);
    expect(errors).toEqual([
      { file: 'd.jsonl', line: 3, field: 'id', reason: 'expected a unique id, got "a" (first on line 1)' },
    ]);
    expect(counts).toEqual({ lines: 3, ok: 2, bad: 1, blank: 0 });
  });

  it('counts blank lines, CRLF endings and a BOM without errors', () => {
    const src = `\uFEFF${good('a')}\r\n\r\n   \n${good('b')}\r\n`;
    const { chains, errors, counts } = parseChains(src, 'w.jsonl', { onError: 'throw' });
    expect(errors).toEqual([]);
    expect(chains.map((c) => c.id)).toEqual(['a', 'b']);
    expect(counts).toEqual({ lines: 4, ok: 2, bad: 0, blank: 2 });
  });

  it("'skip' returns every error and accounts for every line", () => {
    const src = [good('a'), '{oops', '', good('b', { answer: '' }), good('c')].join('\n');
    const { chains, errors, counts } = parseChains(src, 'm.jsonl', { onError: 'skip' });
    expect(chains.map((c) => c.id)).toEqual(['a', 'c']);
    expect(errors.map((e) => [e.line, e.field])).toEqual([
      [2, ''],
      [4, 'answer'],
    ]);
    expect(counts).toEqual({ lines: 5, ok: 2, bad: 2, blank: 1 });
    expect(counts.ok + counts.bad + counts.blank).toBe(counts.lines);
  });

  it("'throw' names file, line, field and reason of the first bad line and how many more", () => {
    const src = [good('a'), good('b', { answer: '' }), '{oops'].join('\n');
    const run = () => parseChains(src, 'm.jsonl', { onError: 'throw' });
    expect(run).toThrow(FormatError);
    expect(run).toThrow(
      'm.jsonl:2: answer: expected a non-empty string, got "" (1 more error(s); 2 bad line(s) in all)',
    );
    // the thrown error lists every error, for the CLI to print
    expect(() => run()).toThrow(
      expect.objectContaining({
        errors: [
          { file: 'm.jsonl', line: 2, reason: 'answer: expected a non-empty string, got ""' },
          {
            file: 'm.jsonl',
            line: 3,
            reason: expect.stringMatching(/^expected a JSON object, got invalid JSON/),
          },
        ],
      }),
    );
  });

  it('a line over maxLineBytes is a bad line (not parsed); the others are read', () => {
    const long = good('b', { answer: 'x'.repeat(200) });
    const src = [good('a'), long, good('c')].join('\n');
    const { chains, errors, counts } = parseChains(src, 'l.jsonl', { onError: 'skip', maxLineBytes: 100 });
    expect(chains.map((c) => c.id)).toEqual(['a', 'c']);
    expect(errors).toEqual([
      {
        file: 'l.jsonl',
        line: 2,
        field: '',
        reason: `line of ${long.length} bytes exceeds the 100-byte limit`,
      },
    ]);
    expect(counts).toEqual({ lines: 3, ok: 2, bad: 1, blank: 0 });
    // the default cap (1 MiB) lets it through
    expect(parseChains(src, 'l.jsonl', { onError: 'throw' }).chains).toHaveLength(3);
  });
});

describe('loadChains', () => {
  it('reads .jsonl and .jsonl.gz files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'chains-'));
    const text = `${good('a')}\n${good('b', { analysis: 'risk' })}\n`;
    await writeFile(join(dir, 'c.jsonl'), text);
    await writeFile(join(dir, 'c.jsonl.gz'), gzipSync(text));
    for (const name of ['c.jsonl', 'c.jsonl.gz']) {
      const { chains, counts } = await loadChains(join(dir, name), { onError: 'throw' });
      expect(chains.map((c) => c.id)).toEqual(['a', 'b']);
      expect(chains[1].analysis).toBe('risk');
      expect(counts).toEqual({ lines: 2, ok: 2, bad: 0, blank: 0 });
    }
  });

  it('names the file path in errors', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'chains-'));
    const path = join(dir, 'bad.jsonl');
    await writeFile(path, `${good('a')}\n{"id":"b"}\n`);
    await expect(loadChains(path, { onError: 'throw' })).rejects.toThrow(`${path}:2: question: expected`);
    const { errors } = await loadChains(path, { onError: 'skip' });
    expect(errors.map((e) => [e.file, e.line, e.field])).toEqual([
      [path, 2, 'question'],
      [path, 2, 'answer'],
    ]);
  });
});
