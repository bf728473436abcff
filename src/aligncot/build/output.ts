// The chains file as a resumable log: each chain is appended as one complete JSON line in one write, so
// after a crash every line but possibly the last is whole. On resume a torn last line is cut off (or, if it
// is a whole chain that only lacks its newline, completed), and the ids already present are skipped.

import { type FileHandle, mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { FormatError } from '../../util/errors.js';
import { repairJsonlLog } from '../../util/jsonl-log.js';
import { parseChains, validateChainLine } from '../schema.js';

/** What an existing output file holds. */
export interface ResumeState {
  /** Ids of the chains in the file. */
  ids: Set<string>;
  /** Bytes of a torn last line that were cut off (0 when the file ended cleanly). */
  truncatedBytes: number;
}

/**
 * Reads an output file for resume (a missing file is empty). Cuts off a torn last line (util/jsonl-log.ts), then
 * validates every line against the chain schema; throws a FormatError naming the file and line of a bad one.
 */
export async function readForResume(path: string): Promise<ResumeState> {
  const log = await repairJsonlLog(path, (tail, line) => 'chain' in validateChainLine(tail, path, line));
  try {
    const { chains } = parseChains(log.text, path, { onError: 'throw' });
    return { ids: new Set(chains.map((c) => c.id)), truncatedBytes: log.truncatedBytes };
  } catch (e) {
    if (!(e instanceof FormatError)) throw e;
    throw new FormatError(e.file, e.where, `${e.reason}; cannot resume: fix or remove this line`);
  }
}

/** Appends JSON lines to a file; concurrent appends are queued, so lines never interleave. */
export class JsonlAppender {
  private queue: Promise<void> = Promise.resolve();
  private handle: Promise<FileHandle> | undefined;

  /** The file is created (with its directory) on the first append. */
  constructor(readonly path: string) {}

  /** Appends `JSON.stringify(value)` and a newline in one write; resolves when it is written. */
  append(value: unknown): Promise<void> {
    const line = `${JSON.stringify(value)}\n`;
    const written = this.queue.then(async () => {
      this.handle ??= mkdir(dirname(this.path), { recursive: true }).then(() => open(this.path, 'a'));
      await (await this.handle).appendFile(line);
    });
    this.queue = written.catch(() => {});
    return written;
  }

  /** Waits for pending appends, flushes the file to disk and closes it. */
  async close(): Promise<void> {
    await this.queue;
    if (!this.handle) return;
    const fh = await this.handle;
    await fh.sync();
    await fh.close();
    this.handle = undefined;
  }
}
