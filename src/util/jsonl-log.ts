// An append-only JSONL log opened for resuming (the chains a build wrote, the results of `mote generate`).
// Every record was appended as one whole line in one write, so after a crash only the last line can be torn.
// A torn line is cut off the file; a last line that is whole and only lacks its line break is completed.
// Node's fs is imported when called, as in text-file.ts.

import { FileError } from './errors.js';
import { decodeText, readFileBytes } from './text-file.js';

/** The text of a log after the repair (complete lines only), and what the repair did. */
export interface RepairedLog {
  /** The file's text: complete lines, each ending in a line break ('' for a missing file). */
  text: string;
  /** Bytes of a torn last line that were cut off the file (0 when none). */
  truncatedBytes: number;
  /** Whether the last line was whole and only its line break was added. */
  completed: boolean;
}

/**
 * Reads the log at `path` for resuming (a missing file is empty). A last line without its line break is kept
 * (and its line break written) when `isWhole(line, lineNumber)` says so; otherwise it is truncated off the file.
 * By default no such line is kept.
 */
export async function repairJsonlLog(
  path: string,
  isWhole: (line: string, lineNumber: number) => boolean = () => false,
): Promise<RepairedLog> {
  let bytes: Uint8Array;
  try {
    bytes = await readFileBytes(path);
  } catch (e) {
    if (e instanceof FileError && e.code === 'ENOENT')
      return { text: '', truncatedBytes: 0, completed: false };
    throw e;
  }
  const end = bytes.lastIndexOf(0x0a) + 1; // end of the last complete line
  const whole = decodeText(bytes.subarray(0, end));
  if (end === bytes.length) return { text: whole, truncatedBytes: 0, completed: false };
  const tail = decodeText(bytes.subarray(end)).replace(/\r$/, '');
  const fs = await import('node:fs/promises');
  try {
    if (tail.trim() !== '' && isWhole(tail, whole.split('\n').length)) {
      await fs.appendFile(path, '\n');
      return { text: `${whole}${tail}\n`, truncatedBytes: 0, completed: true };
    }
    await fs.truncate(path, end);
  } catch (e) {
    throw new FileError(path, 'write', e);
  }
  return { text: whole, truncatedBytes: bytes.length - end, completed: false };
}
