// Prompt files for `aligncot build`: HH-RLHF dialogues (JSONL `{chosen, rejected}`), CSV with a named column
// (AdvBench `goal`), or plain JSONL `{id?, question}`; any of them may be gzipped. Every prompt gets a stable
// id (resume skips ids already built), and every error names the file, the line and the field.

import { basename } from 'node:path';
import { ConfigError, FormatError } from '../../util/errors.js';
import { parseJsonl } from '../../util/jsonl.js';
import { readTextFile } from '../../util/text-file.js';
import type { Turn } from '../chain.js';
import { ChainSchema } from '../schema.js';
import { parseCsvTable } from './csv.js';

/** Prompt file kinds: HH-RLHF dialogues, CSV with a question column, plain JSONL. */
export const PROMPT_FORMATS = ['hh', 'csv', 'jsonl'] as const;
export type PromptFormat = (typeof PROMPT_FORMATS)[number];

/** HH-RLHF: which part of the dialogue before the last Assistant turn becomes the question. */
export const HH_TURNS = ['dialogue', 'last', 'first'] as const;
export type HhTurns = (typeof HH_TURNS)[number];

/** One question to build a chain for. */
export interface Prompt {
  /** Unique within the file; the chain gets the same id. */
  id: string;
  /** A string, or a dialogue whose last turn is the user's. */
  question: string | Turn[];
  /** The file and 1-based line it came from. */
  source: { file: string; line: number };
}

/** How to read a prompt file. */
export interface PromptOptions {
  format: PromptFormat;
  /** csv: the column holding the question (required). jsonl: the field holding it (default 'question'). */
  column?: string;
  /** csv/jsonl: the column/field holding the id. jsonl default 'id' where a record has one; csv default none. */
  idColumn?: string;
  /** Generated ids are `${idPrefix}-${index}` (index: 0-based record number). Default: the file name without extensions. */
  idPrefix?: string;
  /**
   * hh: the dialogue up to the last Assistant turn as turns ('dialogue', the default), or only its last
   * ('last') or first ('first') Human turn as a string.
   */
  turns?: HhTurns;
  /** The longest line accepted, in UTF-8 bytes, checked before parsing (util/lines.ts). Default 1 MiB. */
  maxLineBytes?: number;
}

/** Reads a prompt file (gzip detected by its name or magic bytes). See `parsePrompts`. */
export async function loadPrompts(path: string, options: PromptOptions): Promise<Prompt[]> {
  return parsePrompts(await readTextFile(path), path, options);
}

/**
 * Parses the text of a prompt file. Throws a FormatError naming `file`, the line and the field on malformed
 * records, a missing column or field, duplicate ids, a file of another kind (with the `--format` that
 * fits it) or a file without prompts; a ConfigError on bad options.
 */
export function parsePrompts(text: string, file: string, options: PromptOptions): Prompt[] {
  const { format } = options;
  if (!PROMPT_FORMATS.includes(format)) throw new ConfigError('format', format, PROMPT_FORMATS.join(' | '));
  const prefix = options.idPrefix ?? stem(file);
  const raw = format === 'csv' ? csvPrompts(text, file, options) : jsonlPrompts(text, file, options);
  if (raw.length === 0)
    throw new FormatError(file, '', 'expected at least one prompt, got none (empty file)');
  const firstLine = new Map<string, number>();
  return raw.map(({ id, question, line }, index) => {
    const key = id ?? `${prefix}-${index}`;
    const first = firstLine.get(key);
    if (first !== undefined)
      throw fieldError(
        file,
        line,
        'id',
        `expected a unique id, got ${JSON.stringify(key)} (first on line ${first})`,
      );
    firstLine.set(key, line);
    return { id: key, question, source: { file, line } };
  });
}

// ---------------------------------------------------------------------------------------------------
// formats

interface RawPrompt {
  id?: string;
  question: string | Turn[];
  line: number;
}

function csvPrompts(text: string, file: string, options: PromptOptions): RawPrompt[] {
  if (
    text
      .replace(/^\uFEFF/, '')
      .trimStart()
      .startsWith('{')
  )
    throw new FormatError(
      file,
      '1',
      'expected a CSV header row, got a JSON object (use --format jsonl or --format hh)',
    );
  const { header, rows } = parseCsvTable(text, file, options.maxLineBytes);
  const { column, idColumn } = options;
  if (column === undefined)
    throw new ConfigError('column', column, `the CSV column with the question, one of: ${header.join(', ')}`);
  const at = (name: string) => {
    const i = header.indexOf(name);
    if (i < 0)
      throw new FormatError(
        file,
        '1',
        `expected a column ${JSON.stringify(name)}, the header has: ${header.join(', ')}`,
      );
    return i;
  };
  const q = at(column);
  const idAt = idColumn === undefined ? -1 : at(idColumn);
  return rows.map(({ line, fields }) => ({
    question: checkQuestion(fields[q], file, line, column),
    id: idAt < 0 ? undefined : checkId(fields[idAt], file, line, idColumn as string),
    line,
  }));
}

function jsonlPrompts(text: string, file: string, options: PromptOptions): RawPrompt[] {
  const { records } = parseJsonl(text, file, {
    maxLineBytes: options.maxLineBytes,
    invalidJsonHint: (content, line) =>
      line === 1 && !content.trimStart().startsWith('{') && content.includes(',')
        ? ' (this looks like a CSV header: use --format csv --column NAME)'
        : '',
  });
  return records.map(({ line, value }) =>
    options.format === 'hh' ? hhPrompt(value, file, line, options) : plainPrompt(value, file, line, options),
  );
}

/** HH-RLHF: `chosen` is "\n\nHuman: …\n\nAssistant: ……"; the prompt is everything before the last Assistant reply. */
function hhPrompt(
  record: Record<string, unknown>,
  file: string,
  line: number,
  options: PromptOptions,
): RawPrompt {
  const { chosen } = record;
  if (typeof chosen !== 'string') {
    const hint = 'question' in record ? ' (this looks like a plain prompt file: use --format jsonl)' : '';
    const reason = `expected the HH-RLHF dialogue string "\\n\\nHuman: … \\n\\nAssistant: …", got ${preview(chosen)}${hint}`;
    throw fieldError(file, line, 'chosen', reason);
  }
  const turns = hhTurns(chosen, file, line);
  if (turns.at(-1)?.role === 'assistant') turns.pop();
  if (turns.at(-1)?.role !== 'user')
    throw fieldError(file, line, 'chosen', 'expected a Human turn before the last Assistant turn, got none');
  const users = turns.filter((t) => t.role === 'user');
  const pick = options.turns ?? 'dialogue';
  const question =
    pick === 'dialogue' ? turns : pick === 'last' ? users[users.length - 1].content : users[0].content;
  return { question: checkQuestion(question, file, line, 'chosen'), line };
}

/** Plain JSONL: `{id?, question}` (or the field named by `column`). */
function plainPrompt(
  record: Record<string, unknown>,
  file: string,
  line: number,
  options: PromptOptions,
): RawPrompt {
  const field = options.column ?? 'question';
  if (!(field in record)) {
    const keys = Object.keys(record).join(', ') || 'none';
    const hint =
      'chosen' in record
        ? ' (this looks like an HH-RLHF file: use --format hh)'
        : ' (name the question field with --column)';
    throw fieldError(
      file,
      line,
      field,
      `expected a question, got nothing (missing); the record has keys: ${keys}${hint}`,
    );
  }
  const idField = options.idColumn ?? 'id';
  const hasId = idField in record;
  if (options.idColumn !== undefined && !hasId)
    throw fieldError(file, line, idField, 'expected an id, got nothing (missing)');
  const question = checkQuestion(record[field], file, line, field);
  return { question, id: hasId ? checkId(record[idField], file, line, idField) : undefined, line };
}

// ---------------------------------------------------------------------------------------------------
// helpers

/**
 * Splits an HH-RLHF transcript into turns; every turn must have text. Consecutive turns of one role (8 of
 * the 2,312 bundled test dialogues have two Assistant turns in a row) are merged into one turn.
 */
function hhTurns(dialogue: string, file: string, line: number): Turn[] {
  const parts = dialogue.split(/\n\n(Human|Assistant): ?/);
  if (parts[0].trim() !== '' || parts.length < 3)
    throw fieldError(
      file,
      line,
      'chosen',
      `expected the dialogue to start with "\\n\\nHuman: ", got ${preview(dialogue)}`,
    );
  const turns: Turn[] = [];
  for (let k = 1; k < parts.length; k += 2) {
    const content = parts[k + 1].trim();
    const role = parts[k] === 'Human' ? 'user' : 'assistant';
    const last = k + 2 >= parts.length;
    if (content === '' && !(last && role === 'assistant'))
      throw fieldError(
        file,
        line,
        'chosen',
        `expected text in turn ${(k + 1) / 2} (${parts[k]}), got an empty turn`,
      );
    const prev = turns.at(-1);
    if (prev?.role === role) prev.content = [prev.content, content].filter(Boolean).join('\n\n');
    else turns.push({ role, content });
  }
  return turns;
}

/** A question must be a non-empty string or turns ending with the user's, without step tokens (the chain schema). */
function checkQuestion(value: unknown, file: string, line: number, field: string): string | Turn[] {
  const result = ChainSchema.shape.question.safeParse(value);
  if (result.success) return result.data as string | Turn[];
  const issue = result.error.issues[0];
  const inner =
    issue.code === 'invalid_union' ? (issue.errors[Array.isArray(value) ? 1 : 0]?.[0] ?? issue) : issue;
  const path = inner.path.map((k) => (typeof k === 'number' ? `[${k}]` : `.${String(k)}`)).join('');
  throw fieldError(file, line, `${field}${path}`, `${inner.message}, got ${preview(value)}`);
}

function checkId(value: unknown, file: string, line: number, field: string): string {
  if (typeof value === 'string' && value.trim() !== '') return value;
  if (Number.isInteger(value)) return String(value);
  throw fieldError(file, line, field, `expected a non-empty string or an integer id, got ${preview(value)}`);
}

function fieldError(file: string, line: number, field: string, reason: string): FormatError {
  return new FormatError(file, String(line), `field ${field}: ${reason}`);
}

/** File name without directory and extensions: data/advbench_harmful_behaviors.csv → advbench_harmful_behaviors. */
function stem(file: string): string {
  return basename(file).replace(/(\.(jsonl|json|csv|txt|gz))+$/i, '');
}

/** A short rendering of a value for error messages. */
function preview(value: unknown): string {
  if (value === undefined) return 'nothing (missing)';
  const s = JSON.stringify(value);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
