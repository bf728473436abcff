// JSONL files on disk (the format and its errors are jsonl.ts, which a page can use on text it already has).
import { type JsonlContent, type JsonlOptions, parseJsonl } from './jsonl.js';
import { readTextFile } from './text-file.js';

/** Reads a JSONL file, gzipped or not (`readTextFile`), and parses it (`parseJsonl`). */
export async function readJsonl(path: string, options: JsonlOptions = {}): Promise<JsonlContent> {
  return parseJsonl(await readTextFile(path), path, options);
}
