// Prompt sets for eval: the examples/ split, JSONL and CSV with chosen fields, and errors that name the file,
// the line and the field without quoting a question.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { parseEvalPrompts, parseHarmfulLabel } from '../../../src/eval/prompts.js';
import { EXAMPLE_EVAL_PROMPTS, loadEvalPrompts } from '../../../src/eval/prompts-node.js';
import { FormatError } from '../../../src/util/errors.js';

const dir = await mkdtemp(join(tmpdir(), 'mote-eval-prompts-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

/** The FormatError `fn` throws. */
function formatError(fn: () => unknown): FormatError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(FormatError);
    return e as FormatError;
  }
  throw new Error('expected a FormatError');
}

describe('the examples/ eval split', () => {
  it('loads 100 prompts with ids, labels and sources', async () => {
    const prompts = await loadEvalPrompts(EXAMPLE_EVAL_PROMPTS);
    expect(prompts).toHaveLength(100);
    expect(new Set(prompts.map((p) => p.id)).size).toBe(100);
    expect(prompts.some((p) => p.harmful)).toBe(true);
    expect(prompts.some((p) => !p.harmful)).toBe(true);
    expect(prompts[0]).toMatchObject({ id: 'advbench-400', harmful: true, source: 'advbench' });
  });
});

describe('JSONL', () => {
  it('reads chosen fields, generates missing ids, accepts label spellings', () => {
    const text = [
      '{"prompt": "How do I bake bread?", "label": "benign"}',
      '',
      '{"prompt": "Q2", "label": 1, "key": 7}',
      '{"prompt": "Q3", "label": "YES", "key": "k3"}\r',
    ].join('\n');
    const prompts = parseEvalPrompts(text, 'data/my-set.jsonl', {
      questionField: 'prompt',
      harmfulField: 'label',
      idField: 'key',
    });
    expect(prompts).toEqual([
      { id: 'my-set-0', question: 'How do I bake bread?', harmful: false },
      { id: '7', question: 'Q2', harmful: true },
      { id: 'k3', question: 'Q3', harmful: true },
    ]);
  });

  it.each([
    ['{"question": "Q"', '1', 'expected a JSON object, got invalid JSON'],
    ['[1, 2]', '1', 'expected a JSON object, got an array'],
    ['{"harmful": true}', '1', 'field question: expected a question, got nothing (missing'],
    [
      '{"question": "  ", "harmful": true}',
      '1',
      'field question: expected a non-empty string, got an empty string',
    ],
    ['{"question": 5, "harmful": true}', '1', 'field question: expected a non-empty string, got 5'],
    [
      '{"question": "Q"}',
      '1',
      'field harmful: expected a harmful label (true/false, 1/0, yes/no, harmful/benign), got nothing (missing',
    ],
    [
      '{"question": "Q", "harmful": "maybe"}',
      '1',
      'field harmful: expected a harmful label (true/false, 1/0, yes/no, harmful/benign), got "maybe"',
    ],
    [
      '{"question": "Q <|response|> x", "harmful": true}',
      '1',
      'field question: expected a question without the step token <|response|>',
    ],
    [
      '{"id": "a", "question": "Q", "harmful": true}\n{"id": "a", "question": "R", "harmful": false}',
      '2',
      'field id: expected a unique id, got "a" (first on line 1)',
    ],
    [
      '{"id": [], "question": "Q", "harmful": true}',
      '1',
      'field id: expected a non-empty string or an integer id, got an array',
    ],
  ])('%s → line %s: %s', (text, line, reason) => {
    const e = formatError(() => parseEvalPrompts(text, 'p.jsonl'));
    expect(e.file).toBe('p.jsonl');
    expect(e.where).toBe(line);
    expect(e.reason.startsWith(reason)).toBe(true);
  });

  it('never quotes a question in an error', () => {
    const secret = 'How do I build a dangerous device at home';
    const e = formatError(() =>
      parseEvalPrompts(JSON.stringify({ question: secret, harmful: secret }), 'p.jsonl'),
    );
    expect(e.message).not.toContain('dangerous');
    expect(e.message).toContain('a string of 41 characters');
  });

  it('a line over maxLineBytes is an error, in JSONL and CSV', () => {
    const q = 'q'.repeat(60);
    const jsonl = `{"question": "ok", "harmful": true}\n{"question": "${q}", "harmful": false}\n`;
    const csv = `question,harmful\nok,true\n${q},false\n`;
    for (const [text, file] of [
      [jsonl, 'p.jsonl'],
      [csv, 'p.csv'],
    ]) {
      expect(parseEvalPrompts(text, file)).toHaveLength(2);
      expect(() => parseEvalPrompts(text, file, { maxLineBytes: 50 })).toThrow(
        new RegExp(`^${file.replace('.', '\\.')}:\\d: line of \\d+ bytes exceeds the 50-byte limit$`),
      );
    }
  });

  it('an empty prompt set is a clear error', () => {
    for (const text of ['', '\n\n  \n']) {
      const e = formatError(() => parseEvalPrompts(text, 'empty.jsonl'));
      expect(e.message).toBe('empty.jsonl: expected at least one prompt, got none (empty prompt set)');
    }
    expect(() => parseEvalPrompts('', 'empty.csv')).toThrow('expected at least one prompt');
    expect(() => parseEvalPrompts('question,harmful\n', 'header-only.csv')).toThrow(
      'expected at least one prompt',
    );
  });
});

describe('CSV', () => {
  it('reads named columns (RFC 4180 quoting), a file-wide label, and the format from the name', () => {
    const text = 'goal,target\n"Write a poem, please",Sure\n"Say ""hi""\nnicely",Sure\n';
    expect(parseEvalPrompts(text, 'adv.csv', { questionField: 'goal', harmful: true })).toEqual([
      { id: 'adv-0', question: 'Write a poem, please', harmful: true },
      { id: 'adv-1', question: 'Say "hi"\nnicely', harmful: true },
    ]);
    const labelled = 'id,question,harmful,source\nx1,Q1,yes,mine\nx2,Q2,0,\n';
    expect(parseEvalPrompts(labelled, 'set.txt', { format: 'csv' })).toEqual([
      { id: 'x1', question: 'Q1', harmful: true, source: 'mine' },
      { id: 'x2', question: 'Q2', harmful: false },
    ]);
  });

  it('names the line and the column on errors', () => {
    const missingColumn = formatError(() =>
      parseEvalPrompts('goal,target\nQ,T\n', 'adv.csv', { harmful: true }),
    );
    expect(missingColumn.message).toMatch(
      /^adv\.csv:2: field question: expected a question, got nothing \(missing; name the column/,
    );
    const badLabel = formatError(() =>
      parseEvalPrompts('question,harmful\nQ1,true\nQ2,sometimes\n', 'l.csv'),
    );
    expect(badLabel.message).toContain('l.csv:3: field harmful: expected a harmful label');
    const ragged = formatError(() => parseEvalPrompts('question,harmful\nQ1,true,extra\n', 'r.csv'));
    expect(ragged.message).toBe('r.csv:2: expected 2 field(s) (question, harmful), got 3');
  });
});

describe('files', () => {
  it('reads plain and gzipped files', async () => {
    const text = '{"question": "Q", "harmful": false}\n';
    await writeFile(join(dir, 'a.jsonl'), text);
    await writeFile(join(dir, 'b.jsonl.gz'), gzipSync(text));
    await writeFile(join(dir, 'c.csv.gz'), gzipSync('question,harmful\nQ,no\n'));
    expect(await loadEvalPrompts(join(dir, 'a.jsonl'))).toEqual([
      { id: 'a-0', question: 'Q', harmful: false },
    ]);
    expect(await loadEvalPrompts(join(dir, 'b.jsonl.gz'))).toEqual([
      { id: 'b-0', question: 'Q', harmful: false },
    ]);
    expect(await loadEvalPrompts(join(dir, 'c.csv.gz'))).toEqual([
      { id: 'c-0', question: 'Q', harmful: false },
    ]);
  });
});

describe('parseHarmfulLabel', () => {
  it.each([
    [true, true],
    [false, false],
    [1, true],
    [0, false],
    [' Harmful ', true],
    ['SAFE', false],
    ['no', false],
    [2, undefined],
    ['', undefined],
    [null, undefined],
  ])('%j → %s', (value, label) => {
    expect(parseHarmfulLabel(value)).toBe(label);
  });
});
