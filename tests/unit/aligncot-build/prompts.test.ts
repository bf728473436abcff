// Prompt files: the bundled HH-RLHF, AdvBench and Alpaca data (counts and hashes only: the harmful
// prompts stay out of test output), plain JSONL, and bad input with file, line and field in the error.
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  loadPrompts,
  type Prompt,
  type PromptOptions,
  parsePrompts,
} from '../../../src/aligncot/build/index.js';
import { ROOT } from '../../helpers/index.js';
import { tempDir } from './helpers.js';

const HH = `${ROOT}data/hh_rlhf_harmless_base_test.jsonl.gz`;
const ADVBENCH = `${ROOT}data/advbench_harmful_behaviors.csv`;
const ALPACA = `${ROOT}data/alpaca_seed_tasks.jsonl`;
const EVAL = `${ROOT}examples/data/eval-prompts.jsonl`;

const sha = (prompts: Prompt[]) =>
  createHash('sha256')
    .update(JSON.stringify(prompts.map((p) => [p.id, p.question])))
    .digest('hex')
    .slice(0, 16);
const allTrue = (xs: boolean[]) => xs.every(Boolean);

describe('bundled prompt data', () => {
  it('HH-RLHF: 2,312 dialogues up to the last Assistant turn, ending with the Human turn', async () => {
    const prompts = await loadPrompts(HH, { format: 'hh' });
    expect(prompts.length).toBe(2312);
    expect(prompts[0].id).toBe('hh_rlhf_harmless_base_test-0');
    expect(prompts[2311].source).toEqual({ file: HH, line: 2312 });
    const dialogues = prompts.map((p) => p.question);
    expect(
      allTrue(dialogues.map((q) => Array.isArray(q) && q.length % 2 === 1 && q.at(-1)?.role === 'user')),
    ).toBe(true);
    expect(
      allTrue(
        dialogues.map(
          (q) => Array.isArray(q) && q.every((t, i) => t.role === (i % 2 ? 'assistant' : 'user')),
        ),
      ),
    ).toBe(true);
    expect(dialogues.filter((q) => q.length > 1).length).toBeGreaterThan(1000);
    // 'last' and 'first' give that Human turn as a string
    const last = await loadPrompts(HH, { format: 'hh', turns: 'last', idPrefix: 'hh-rlhf' });
    const first = await loadPrompts(HH, { format: 'hh', turns: 'first', idPrefix: 'hh-rlhf' });
    expect(last[5].id).toBe('hh-rlhf-5');
    const turns = (i: number) => dialogues[i] as { content: string }[];
    expect(allTrue(last.map((p, i) => p.question === turns(i).at(-1)?.content))).toBe(true);
    expect(allTrue(first.map((p, i) => p.question === turns(i)[0].content))).toBe(true);
    // pins of the parsed content (regression guards; the text itself is never printed)
    expect(sha(prompts)).toBe('5f693fb8bbbfa933');
    expect(sha(first)).toBe('45c0b592279871e0');
  });

  it('HH-RLHF: consecutive turns of one role are merged (two Assistant turns in a row)', () => {
    const chosen = '\n\nHuman: a\n\nAssistant: b\n\nAssistant: c\n\nHuman: d\n\nAssistant: e';
    const [p] = parsePrompts(JSON.stringify({ chosen, rejected: '' }), 'p', { format: 'hh' });
    expect(p.question).toEqual([
      { role: 'user', content: 'a' },
      { role: 'assistant', content: 'b\n\nc' },
      { role: 'user', content: 'd' },
    ]);
  });

  it('AdvBench CSV: 521 goals (data/README.md says 520) with ids from the row number', async () => {
    const prompts = await loadPrompts(ADVBENCH, { format: 'csv', column: 'goal', idPrefix: 'advbench' });
    expect(prompts.length).toBe(521);
    expect(prompts.map((p) => p.id).slice(0, 2)).toEqual(['advbench-0', 'advbench-1']);
    expect(prompts[0].source.line).toBe(2);
    // the same hash as Python's csv.DictReader gives over [[f"advbench-{i}", row["goal"]], …]
    expect(sha(prompts)).toBe('dfa0956a3ae0e052');
    expect(allTrue(prompts.map((p) => typeof p.question === 'string' && p.question.length > 10))).toBe(true);
    const withTarget = await loadPrompts(ADVBENCH, { format: 'csv', column: 'target' });
    expect(allTrue(withTarget.map((p) => String(p.question).startsWith('Sure')))).toBe(true);
  });

  it('Alpaca seed tasks: jsonl with --column instruction and the file ids', async () => {
    const prompts = await loadPrompts(ALPACA, { format: 'jsonl', column: 'instruction' });
    expect(prompts.length).toBe(175);
    expect(prompts[0].id).toBe('seed_task_0');
  });

  it('plain JSONL {id, question}: the held-out evaluation prompts', async () => {
    const prompts = await loadPrompts(EVAL, { format: 'jsonl' });
    expect(prompts.length).toBe(100);
    expect(new Set(prompts.map((p) => p.id)).size).toBe(100);
  });
});

describe('plain JSONL', () => {
  it('takes ids from the file or numbers the records, and accepts dialogues', () => {
    const text =
      '{"question": "a?"}\n\n{"id": 7, "question": [{"role": "user", "content": "b?"}]}\r\n{"question": "c?"}';
    const prompts = parsePrompts(text, 'dir/my-prompts.jsonl', { format: 'jsonl' });
    expect(prompts.map((p) => [p.id, p.source.line])).toEqual([
      ['my-prompts-0', 1],
      ['7', 3],
      ['my-prompts-2', 4],
    ]);
    expect(prompts[1].question).toEqual([{ role: 'user', content: 'b?' }]);
  });

  it('reads a gzipped file whatever its name', async () => {
    const path = join(await tempDir(), 'p.jsonl');
    await writeFile(path, gzipSync('{"question": "hello?"}\n'));
    expect((await loadPrompts(path, { format: 'jsonl' }))[0].question).toBe('hello?');
  });
});

describe('bad prompt files', () => {
  const jsonl: PromptOptions = { format: 'jsonl' };
  const hh: PromptOptions = { format: 'hh' };
  const csv: PromptOptions = { format: 'csv', column: 'goal' };
  const hhLine = JSON.stringify({ chosen: '\n\nHuman: hi\n\nAssistant: hello', rejected: '…' });

  it.each([
    [
      'malformed JSONL',
      '{"question": "a"}\n{"question": "b"\n',
      jsonl,
      /^p:2: expected a JSON object, got invalid JSON \(.*\)$/,
    ],
    ['a JSON array line', '{"question": "a"}\n[1]\n', jsonl, /^p:2: expected a JSON object, got an array$/],
    [
      'a missing question',
      '{"question": "a"}\n{"q": "b"}\n',
      jsonl,
      /^p:2: field question: expected a question, got nothing \(missing\); the record has keys: q \(name the question field with --column\)$/,
    ],
    [
      'an empty question',
      '{"question": "  "}\n',
      jsonl,
      /^p:1: field question: expected a non-empty string, got " {2}"$/,
    ],
    [
      'a question of the wrong type',
      '{"question": 42}\n',
      jsonl,
      /^p:1: field question: expected a non-empty string, got 42$/,
    ],
    [
      'a dialogue ending with the assistant',
      '{"question": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}',
      jsonl,
      /^p:1: field question\[1\]\.role: expected the last turn to be "user"/,
    ],
    [
      'a step token in a question',
      '{"question": "a <|response|> b"}',
      jsonl,
      /^p:1: field question: expected text without the reserved step token <\|response\|>/,
    ],
    [
      'a duplicate id',
      '{"id": "x", "question": "a"}\n{"id": "x", "question": "b"}\n',
      jsonl,
      /^p:2: field id: expected a unique id, got "x" \(first on line 1\)$/,
    ],
    [
      'a bad id',
      '{"id": "", "question": "a"}\n',
      jsonl,
      /^p:1: field id: expected a non-empty string or an integer id, got ""$/,
    ],
    ['an empty file', '', jsonl, /^p: expected at least one prompt, got none \(empty file\)$/],
    ['a blank file', '\n  \n\n', hh, /^p: expected at least one prompt, got none \(empty file\)$/],
    ['an empty CSV', '', csv, /^p: expected a CSV header row, got an empty file$/],
    [
      'a CSV with a header only',
      'goal,target\n',
      csv,
      /^p: expected at least one prompt, got none \(empty file\)$/,
    ],
    ['a missing CSV column', 'a,b\n1,2\n', csv, /^p:1: expected a column "goal", the header has: a, b$/],
    ['an unterminated CSV quote', 'goal\nok\n"open\n\n', csv, /^p:3: field 1: expected a closing quote/],
    [
      'an empty CSV question',
      'goal,t\nok,1\n,2\n',
      csv,
      /^p:3: field goal: expected a non-empty string, got ""$/,
    ],
    [
      'an HH dialogue without a Human turn',
      JSON.stringify({ chosen: 'Assistant: hi' }),
      hh,
      /^p:1: field chosen: expected the dialogue to start with "\\n\\nHuman: "/,
    ],
    [
      'an HH dialogue with an empty turn',
      JSON.stringify({ chosen: '\n\nHuman:  \n\nAssistant: x' }),
      hh,
      /^p:1: field chosen: expected text in turn 1 \(Human\), got an empty turn$/,
    ],
  ])('%s', (_, text, options, message) => {
    expect(() => parsePrompts(text, 'p', options)).toThrow(message);
  });

  it.each([
    [
      'plain JSONL read as hh',
      '{"id": "a", "question": "q"}\n',
      hh,
      /^p:1: field chosen: expected the HH-RLHF dialogue string .*\(this looks like a plain prompt file: use --format jsonl\)$/,
    ],
    [
      'HH-RLHF read as jsonl',
      `${hhLine}\n`,
      jsonl,
      /^p:1: field question: .*keys: chosen, rejected \(this looks like an HH-RLHF file: use --format hh\)$/,
    ],
    [
      'CSV read as jsonl',
      'goal,target\na,b\n',
      jsonl,
      /^p:1: expected a JSON object, got invalid JSON .*\(this looks like a CSV header: use --format csv --column NAME\)$/,
    ],
    ['CSV read as hh', 'goal,target\na,b\n', hh, /^p:1: .*use --format csv --column NAME\)$/],
    [
      'JSONL read as csv',
      `${hhLine}\n`,
      csv,
      /^p:1: expected a CSV header row, got a JSON object \(use --format jsonl or --format hh\)$/,
    ],
  ])('a prompt file of the wrong kind: %s', (_, text, options, message) => {
    expect(() => parsePrompts(text, 'p', options)).toThrow(message);
  });

  it('a line over maxLineBytes is an error in every format', () => {
    const q = 'q'.repeat(60);
    const cases: [string, PromptOptions][] = [
      [`{"question": "${q}"}\n`, { format: 'jsonl' }],
      [`goal\n${q}\n`, { format: 'csv', column: 'goal' }],
      [`${JSON.stringify({ chosen: `\n\nHuman: ${q}\n\nAssistant: x` })}\n`, { format: 'hh' }],
    ];
    for (const [text, options] of cases) {
      expect(parsePrompts(text, 'p', options)).toHaveLength(1);
      expect(() => parsePrompts(text, 'p', { ...options, maxLineBytes: 50 })).toThrow(
        /^p:\d: line of \d+ bytes exceeds the 50-byte limit$/,
      );
    }
  });

  it('CSV needs a column, and options are checked', () => {
    expect(() => parsePrompts('goal,target\na,b\n', 'p', { format: 'csv' })).toThrow(
      /column = undefined; expected the CSV column with the question, one of: goal, target/,
    );
    expect(() => parsePrompts('x', 'p', { format: 'tsv' as never })).toThrow(
      /format = "tsv"; expected hh \| csv \| jsonl/,
    );
  });

  it('names the file of a bad bundled-style file on disk', async () => {
    const path = join(await tempDir(), 'bad.csv');
    await writeFile(path, 'goal,target\n"fine",x\nbroken"quote,y\n');
    await expect(loadPrompts(path, { format: 'csv', column: 'goal' })).rejects.toThrow(
      `${path}:3: field 1: unexpected quote`,
    );
  });
});
