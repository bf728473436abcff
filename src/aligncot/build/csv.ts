// RFC 4180 CSV: comma-separated fields; a field in double quotes may hold commas, line breaks and `""` (one
// quote). Written here rather than taken as a dependency: the grammar is small and the errors must name lines.

import { FormatError } from '../../util/errors.js';
import { checkLineLengths, DEFAULT_MAX_LINE_BYTES } from '../../util/lines.js';

/** One record: its fields and the 1-based line it starts on (a quoted field may span several lines). */
export interface CsvRecord {
  line: number;
  fields: string[];
}

/** A CSV file with a header row: column names and the data records, each with one field per column. */
export interface CsvTable {
  header: string[];
  rows: CsvRecord[];
}

/**
 * Parses CSV text into records (a leading BOM is dropped; LF, CRLF and CR end records; blank lines are
 * skipped). Throws a FormatError naming `file` and the line on a line longer than `maxLineBytes` (checked
 * before parsing, util/lines.ts; default 1 MiB), an unterminated quoted field, a quote inside an unquoted
 * field, or text after a closing quote.
 */
export function parseCsv(text: string, file: string, maxLineBytes = DEFAULT_MAX_LINE_BYTES): CsvRecord[] {
  checkLineLengths(text, file, maxLineBytes);
  const records: CsvRecord[] = [];
  const at = { i: text.charCodeAt(0) === 0xfeff ? 1 : 0, line: 1 };
  while (at.i < text.length) {
    const line = at.line;
    const fields: string[] = [];
    let quoted = false;
    for (;;) {
      quoted ||= text[at.i] === '"';
      fields.push(
        text[at.i] === '"'
          ? quotedField(text, at, file, fields.length + 1)
          : plainField(text, at, file, fields.length + 1),
      );
      if (text[at.i] === ',') {
        at.i++;
        continue;
      }
      if (text[at.i] === '\r') at.i++;
      if (text[at.i] === '\n') at.i++;
      at.line++;
      break;
    }
    if (quoted || fields.length > 1 || fields[0] !== '') records.push({ line, fields });
  }
  return records;
}

/** Parses CSV text whose first record is the header; every row must have one field per column. */
export function parseCsvTable(text: string, file: string, maxLineBytes?: number): CsvTable {
  const [head, ...rows] = parseCsv(text, file, maxLineBytes);
  if (!head) throw new FormatError(file, '', 'expected a CSV header row, got an empty file');
  const header = head.fields.map((h) => h.trim());
  const seen = new Set<string>();
  for (const name of header) {
    if (seen.has(name))
      throw new FormatError(
        file,
        String(head.line),
        `expected unique column names, got ${JSON.stringify(name)} twice`,
      );
    seen.add(name);
  }
  for (const row of rows) {
    if (row.fields.length !== header.length) {
      const reason = `expected ${header.length} field(s) (${header.join(', ')}), got ${row.fields.length}`;
      throw new FormatError(file, String(row.line), reason);
    }
  }
  return { header, rows };
}

// ---------------------------------------------------------------------------------------------------
// helpers

interface Cursor {
  i: number;
  line: number;
}

const isEnd = (ch: string | undefined) => ch === undefined || ch === ',' || ch === '\n' || ch === '\r';

/** A field starting with `"`: up to the closing quote, which must be followed by a comma or a line end. */
function quotedField(text: string, at: Cursor, file: string, n: number): string {
  const open = at.line;
  let field = '';
  at.i++;
  for (;;) {
    if (at.i >= text.length) {
      const reason = `field ${n}: expected a closing quote for the quoted field opened on this line, got end of file`;
      throw new FormatError(file, String(open), reason);
    }
    const ch = text[at.i];
    if (ch === '"' && text[at.i + 1] === '"') {
      field += '"';
      at.i += 2;
    } else if (ch === '"') {
      at.i++;
      break;
    } else {
      if (ch === '\n' || (ch === '\r' && text[at.i + 1] !== '\n')) at.line++;
      field += ch;
      at.i++;
    }
  }
  if (!isEnd(text[at.i])) {
    const reason = `field ${n}: expected a comma or a line end after the closing quote, got ${JSON.stringify(text[at.i])}`;
    throw new FormatError(file, String(at.line), reason);
  }
  return field;
}

/** An unquoted field: up to the next comma or line end; it may not contain a quote. */
function plainField(text: string, at: Cursor, file: string, n: number): string {
  const start = at.i;
  while (!isEnd(text[at.i])) {
    if (text[at.i] === '"') {
      const reason = `field ${n}: unexpected quote inside an unquoted field (quote the whole field and write "" for a quote)`;
      throw new FormatError(file, String(at.line), reason);
    }
    at.i++;
  }
  return text.slice(start, at.i);
}
