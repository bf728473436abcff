// How the CLI reports an error that ends a command: its message, and for an error about many bad lines of a
// file (a chains file read with every line checked) the other bad lines too, up to a bound, then how many more.
import { JsonlError } from '../util/jsonl.js';

/** The most errors printed for one file (the first in the message, the others one per line below it). */
export const MAX_LISTED_ERRORS = 20;

/** The text printed on stderr for `err`: `mote: <message>`, then the other bad lines of a JsonlError. */
export function errorReport(err: Error): string {
  const lines = [`mote: ${err.message}`];
  if (err instanceof JsonlError) {
    const others = err.errors.slice(1);
    for (const e of others.slice(0, MAX_LISTED_ERRORS - 1)) lines.push(`  ${e.file}:${e.line}: ${e.reason}`);
    const unlisted = others.length - (MAX_LISTED_ERRORS - 1);
    if (unlisted > 0) lines.push(`  … ${unlisted} more error(s) not listed`);
  }
  return lines.join('\n');
}
