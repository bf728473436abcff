// The one JSONL reader of the library, for every JSONL file it reads: chains, prompt sets, eval records,
// pretraining corpora, metrics logs. One JSON object per line; lines end in LF or CRLF; blank lines are skipped
// and counted; a leading byte-order mark is dropped. A line longer than the cap is rejected before it is parsed,
// so a 50 MB line costs one scan of its characters, not a parse into a large object tree. Every error names
// the file and the 1-based line.
//
//   parseJsonl('{"a":1}\r\n\n[2]\n', 'x.jsonl', { onError: 'collect' })
//   → records [{line 1, value {a: 1}}], errors [{x.jsonl, line 3, 'expected a JSON object, got an array'}],
//     lines 3, blank 1

import { check, FormatError } from './errors.js';
import { checkMaxLineBytes, DEFAULT_MAX_LINE_BYTES, overLongLine, splitLines } from './lines.js';

export { DEFAULT_MAX_LINE_BYTES };

export interface JsonlOptions {
  /** The longest line accepted, in UTF-8 bytes without its line break; checked before parsing. Default 1 MiB. */
  maxLineBytes?: number;
  /**
   * 'throw' (default): throw a FormatError naming the first bad line. 'collect': read on; every bad line is in
   * `errors`, the good ones in `records`.
   */
  onError?: 'throw' | 'collect';
  /**
   * Skip a last line that has no line break and is not whole JSON: the torn tail of a log whose writer stopped
   * mid-line (`tornTail` says so). Default false: such a line is an error like any other.
   */
  ignoreTornTail?: boolean;
  /** Appended to the reason of a line that is not JSON, e.g. a hint that the file looks like CSV. */
  invalidJsonHint?: (content: string, line: number) => string;
}

/** One JSON object and the 1-based line it was on. */
export interface JsonlRecord {
  line: number;
  value: Record<string, unknown>;
}

/** One bad line: the file, the 1-based line and what was wrong. */
export interface JsonlLineError {
  file: string;
  line: number;
  reason: string;
}

/** What a JSONL text holds. */
export interface JsonlContent {
  /** The JSON objects, in file order. */
  records: JsonlRecord[];
  /** The bad lines ('collect'; empty with 'throw'). */
  errors: JsonlLineError[];
  /** Lines in the text, blank ones included (the line break that ends the last line starts no new one). */
  lines: number;
  /** Blank (whitespace-only) lines. */
  blank: number;
  /** Whether a torn last line was skipped (`ignoreTornTail`). */
  tornTail: boolean;
}

/** Parses JSONL text already in memory; `file` names it in errors. See the file header and `JsonlOptions`. */
export function parseJsonl(text: string, file: string, options: JsonlOptions = {}): JsonlContent {
  const { onError = 'throw', ignoreTornTail = false, maxLineBytes = DEFAULT_MAX_LINE_BYTES } = options;
  checkMaxLineBytes(maxLineBytes);
  check(onError === 'throw' || onError === 'collect', 'onError', onError, '"throw" or "collect"');
  const out: JsonlContent = { records: [], errors: [], lines: 0, blank: 0, tornTail: false };
  for (const { line, content, unterminated } of splitLines(text)) {
    out.lines = line;
    if (content.trim() === '') {
      out.blank++;
      continue;
    }
    const parsed = parseJsonlLine(content, line, options);
    if ('value' in parsed) {
      out.records.push({ line, value: parsed.value });
      continue;
    }
    if (ignoreTornTail && unterminated && !parsed.isObjectError) {
      out.tornTail = true;
      continue;
    }
    if (onError === 'throw') throw new FormatError(file, String(line), parsed.reason);
    out.errors.push({ file, line, reason: parsed.reason });
  }
  return out;
}

/**
 * Parses one line (without its line break): the length cap first, then JSON, then "is it an object". Returns
 * the object, or the reason it is bad (`isObjectError`: the line is JSON, but not an object).
 */
export function parseJsonlLine(
  content: string,
  line: number,
  options: Pick<JsonlOptions, 'maxLineBytes' | 'invalidJsonHint'> = {},
): { value: Record<string, unknown> } | { reason: string; isObjectError: boolean } {
  const tooLong = overLongLine(content, options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES);
  if (tooLong) return { reason: tooLong, isObjectError: false };
  let value: unknown;
  try {
    value = JSON.parse(content);
  } catch (e) {
    const hint = options.invalidJsonHint?.(content, line) ?? '';
    return {
      reason: `expected a JSON object, got invalid JSON (${(e as Error).message})${hint}`,
      isObjectError: false,
    };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    return { reason: `expected a JSON object, got ${kindOf(value)}`, isObjectError: true };
  return { value: value as Record<string, unknown> };
}

/**
 * Several bad lines of one file: the message names the first and counts the rest, `errors` holds them all
 * (for a caller that lists them). `file`, `where` and `reason` are those of the first.
 */
export class JsonlError extends FormatError {
  constructor(
    readonly errors: readonly JsonlLineError[],
    /** How many lines are bad (a line may have several errors). */
    readonly badLines: number,
  ) {
    const [first] = errors;
    const more =
      errors.length > 1 ? ` (${errors.length - 1} more error(s); ${badLines} bad line(s) in all)` : '';
    super(first.file, String(first.line), `${first.reason}${more}`);
    this.name = 'JsonlError';
  }
}

// ---------------------------------------------------------------------------------------------------
// helpers

/** The kind of a JSON value that is not an object, without quoting text (a line may hold a harmful prompt). */
function kindOf(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return 'a string';
  return JSON.stringify(value); // a number, true, false or null
}
