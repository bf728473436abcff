// Lines of a text file and the one cap on their length, shared by the JSONL reader (jsonl.ts) and the CSV
// reader (aligncot/build/csv.ts). The cap is checked before a line is parsed, so an over-long line costs one
// scan of its characters and a clear error, not a parse.

import { check, FormatError } from './errors.js';

/** The default cap on one line: 1 MiB of UTF-8, without its line break. */
export const DEFAULT_MAX_LINE_BYTES = 1024 * 1024;

/** One line: its 1-based number, its text without LF / CRLF, and whether it is the last one and lacks a break. */
export interface Line {
  line: number;
  content: string;
  unterminated: boolean;
}

/** The lines of `text` (LF or CRLF; a leading byte-order mark dropped; a final line break starts no new line). */
export function* splitLines(text: string): Generator<Line> {
  let start = 0;
  for (let line = 1; start < text.length; line++) {
    const lf = text.indexOf('\n', start);
    const end = lf < 0 ? text.length : lf;
    let content = text.slice(start, end);
    if (content.endsWith('\r')) content = content.slice(0, -1);
    if (line === 1 && content.charCodeAt(0) === 0xfeff) content = content.slice(1);
    yield { line, content, unterminated: lf < 0 };
    start = end + 1;
  }
}

/** Checks a `maxLineBytes` option: a positive integer. */
export function checkMaxLineBytes(maxLineBytes: number): void {
  check(
    Number.isInteger(maxLineBytes) && maxLineBytes > 0,
    'maxLineBytes',
    maxLineBytes,
    'a positive integer',
  );
}

/** The reason `content` is over the cap ("line of N bytes exceeds the 1 MiB limit"), or null when it is not. */
export function overLongLine(content: string, maxLineBytes: number): string | null {
  // A UTF-16 code unit is 1 to 3 UTF-8 bytes: count bytes only when the line might be over the cap.
  if (content.length * 3 <= maxLineBytes) return null;
  const bytes = utf8Length(content);
  return bytes > maxLineBytes ? `line of ${bytes} bytes exceeds the ${byteSize(maxLineBytes)} limit` : null;
}

/**
 * Throws a FormatError naming `file` and the first line of `text` over the cap. Lines end at LF, CRLF or a lone
 * CR (as CSV records may), so a file of CR-ended lines is not one long line.
 */
export function checkLineLengths(text: string, file: string, maxLineBytes = DEFAULT_MAX_LINE_BYTES): void {
  checkMaxLineBytes(maxLineBytes);
  if (text.length * 3 <= maxLineBytes) return; // no line can be over
  let lf = text.indexOf('\n');
  let cr = text.indexOf('\r');
  let start = 0;
  for (let line = 1; ; line++) {
    const end = Math.min(lf < 0 ? text.length : lf, cr < 0 ? text.length : cr);
    const reason = overLongLine(text.slice(start, end), maxLineBytes);
    if (reason) throw new FormatError(file, String(line), reason);
    if (end === text.length) return;
    start = end + (end === cr && lf === end + 1 ? 2 : 1); // CRLF is one break
    if (lf >= 0 && lf < start) lf = text.indexOf('\n', start);
    if (cr >= 0 && cr < start) cr = text.indexOf('\r', start);
  }
}

// ---------------------------------------------------------------------------------------------------
// helpers

/** Node's native UTF-8 byte count when present (a browser has no Buffer). */
const nodeBuffer = (globalThis as { Buffer?: { byteLength(s: string, encoding: 'utf8'): number } }).Buffer;

/** The UTF-8 length of a string (a lone surrogate counts as the 3 bytes of U+FFFD, as TextEncoder writes it). */
function utf8Length(s: string): number {
  if (nodeBuffer) return nodeBuffer.byteLength(s, 'utf8');
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c < 0xdc00 && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** 1048576 → "1 MiB", 4096 → "4 KiB", 1000 → "1000-byte" (as in "the … limit"). */
function byteSize(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n}-byte`;
}
