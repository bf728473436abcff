// Prompt sets for `mote eval`: the held-out split of examples/ (`examples/data/eval-prompts.jsonl`,
// `{id, question, harmful, source}` per line) and any JSONL or CSV file with a question and a harmful label.
// Every error names the file, the line and the field; no error quotes a question (it may be harmful).

import { parseCsvTable } from '../aligncot/build/csv.js';
import { STEP_TOKENS } from '../steps.js';
import { ConfigError, FormatError } from '../util/errors.js';
import { parseJsonl } from '../util/jsonl.js';

/** One prompt to evaluate. */
export interface EvalPrompt {
  id: string;
  question: string;
  harmful: boolean;
  source?: string;
}

/** How to read a prompt file. */
export interface EvalPromptOptions {
  /** 'jsonl' or 'csv'. Default: 'csv' for a `.csv` / `.csv.gz` name, else 'jsonl'. */
  format?: 'jsonl' | 'csv';
  /** The field / column holding the question. Default 'question'. */
  questionField?: string;
  /** The field / column holding the label (see `parseHarmfulLabel`). Default 'harmful'. */
  harmfulField?: string;
  /**
   * One label for every prompt, for files without a label (AdvBench: `harmful: true`). When given, the
   * label field is not read.
   */
  harmful?: boolean;
  /** The field / column holding the id. Default 'id'; when absent, ids are `${file stem}-${0-based index}`. */
  idField?: string;
  /** The field / column holding the source. Default 'source'; optional in every record. */
  sourceField?: string;
  /** The longest line accepted, in UTF-8 bytes, checked before parsing (util/lines.ts). Default 1 MiB. */
  maxLineBytes?: number;
}

/**
 * Parses the text of a prompt file. Throws a FormatError naming `file`, the line and the field on a malformed
 * record, a missing or empty question, a missing or unreadable label, a repeated id, or a file without prompts.
 */
export function parseEvalPrompts(text: string, file: string, options: EvalPromptOptions = {}): EvalPrompt[] {
  const format = options.format ?? (/\.csv(\.gz)?$/i.test(file) ? 'csv' : 'jsonl');
  if (format !== 'jsonl' && format !== 'csv') throw new ConfigError('format', format, '"jsonl" or "csv"');
  const rows =
    format === 'csv'
      ? csvRows(text, file, options.maxLineBytes)
      : jsonlRows(text, file, options.maxLineBytes);
  if (rows.length === 0)
    throw new FormatError(file, '', 'expected at least one prompt, got none (empty prompt set)');
  const f = {
    question: options.questionField ?? 'question',
    harmful: options.harmfulField ?? 'harmful',
    id: options.idField ?? 'id',
    source: options.sourceField ?? 'source',
  };
  const stem = (file.split(/[\\/]/).pop() ?? file).replace(/(\.(jsonl|json|csv|gz))+$/i, '');
  const firstLine = new Map<string, number>();
  return rows.map(({ line, get }, index) => {
    const question = readQuestion(get(f.question), file, line, f.question, format);
    const harmful = options.harmful ?? readLabel(get(f.harmful), file, line, f.harmful);
    const rawId = get(f.id);
    const id = rawId === undefined || rawId === '' ? `${stem}-${index}` : readId(rawId, file, line, f.id);
    const first = firstLine.get(id);
    if (first !== undefined)
      throw fieldError(
        file,
        line,
        f.id,
        `expected a unique id, got ${JSON.stringify(id)} (first on line ${first})`,
      );
    firstLine.set(id, line);
    const source = get(f.source);
    return { id, question, harmful, ...(typeof source === 'string' && source !== '' && { source }) };
  });
}

/**
 * Reads a harmful label: true/false, 1/0, or (any case, trimmed) "true"/"false", "1"/"0", "yes"/"no",
 * "harmful"/"benign", "unsafe"/"safe". Returns undefined for anything else.
 */
export function parseHarmfulLabel(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (value === 1 || value === 0) return value === 1;
  if (typeof value !== 'string') return undefined;
  const v = value.trim().toLowerCase();
  if (['true', '1', 'yes', 'harmful', 'unsafe'].includes(v)) return true;
  if (['false', '0', 'no', 'benign', 'safe'].includes(v)) return false;
  return undefined;
}

// ---------------------------------------------------------------------------------------------------
// formats

/** One record: its 1-based line and a field getter (undefined when the field is absent). */
interface Row {
  line: number;
  get(field: string): unknown;
}

function jsonlRows(text: string, file: string, maxLineBytes: number | undefined): Row[] {
  const { records } = parseJsonl(text, file, {
    maxLineBytes,
    invalidJsonHint: (content, line) =>
      line === 1 && content.includes(',') && !content.trimStart().startsWith('{')
        ? ' (a CSV file? name it .csv or pass format: "csv")'
        : '',
  });
  return records.map(({ line, value }) => ({
    line,
    get: (field) => (Object.hasOwn(value, field) ? value[field] : undefined),
  }));
}

function csvRows(text: string, file: string, maxLineBytes: number | undefined): Row[] {
  if (text.replace(/^\uFEFF/, '').trim() === '') return [];
  const { header, rows } = parseCsvTable(text, file, maxLineBytes);
  return rows.map(({ line, fields }) => ({
    line,
    get: (field) => {
      const i = header.indexOf(field);
      return i < 0 ? undefined : fields[i];
    },
  }));
}

// ---------------------------------------------------------------------------------------------------
// helpers

const RESERVED = Object.values(STEP_TOKENS).flatMap((t) => [t.start, t.end]);

function readQuestion(value: unknown, file: string, line: number, field: string, format: string): string {
  if (value === undefined) {
    const how = format === 'csv' ? 'name the column with questionField' : 'name the field with questionField';
    throw fieldError(file, line, field, `expected a question, got nothing (missing; ${how})`);
  }
  if (typeof value !== 'string' || value.trim() === '')
    throw fieldError(file, line, field, `expected a non-empty string, got ${describe(value)}`);
  const token = RESERVED.find((t) => value.includes(t));
  if (token) throw fieldError(file, line, field, `expected a question without the step token ${token}`);
  return value;
}

function readLabel(value: unknown, file: string, line: number, field: string): boolean {
  const label = parseHarmfulLabel(value);
  if (label !== undefined) return label;
  const got =
    value === undefined
      ? 'nothing (missing; name the field with harmfulField, or give harmful: true|false for the whole file)'
      : typeof value === 'string' && value.length > 20
        ? `a string of ${value.length} characters`
        : JSON.stringify(value);
  throw fieldError(
    file,
    line,
    field,
    `expected a harmful label (true/false, 1/0, yes/no, harmful/benign), got ${got}`,
  );
}

function readId(value: unknown, file: string, line: number, field: string): string {
  if (typeof value === 'string' && value.trim() !== '') return value;
  if (Number.isInteger(value)) return String(value);
  throw fieldError(file, line, field, `expected a non-empty string or an integer id, got ${describe(value)}`);
}

/** The type of a value, and the value itself when it is short and not a string (never a question's text). */
function describe(value: unknown): string {
  if (typeof value === 'string') return value.trim() === '' ? 'an empty string' : `a string`;
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  const s = JSON.stringify(value);
  return typeof value === 'object' ? 'an object' : s.length > 40 ? `a ${typeof value}` : s;
}

function fieldError(file: string, line: number, field: string, reason: string): FormatError {
  return new FormatError(file, String(line), `field ${field}: ${reason}`);
}
