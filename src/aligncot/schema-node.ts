// Chains JSONL files on disk (the format and its validation are schema.ts).
import { readTextFile } from '../util/text-file.js';
import { type LoadChainsOptions, type LoadedChains, parseChains } from './schema.js';

/**
 * Reads a chains JSONL file (`.jsonl`, or gzip-compressed `.jsonl.gz`/`.gz`) and validates every line.
 * Blank lines are counted, not errors. A duplicate id is an error on the later line; the first one stays.
 */
export async function loadChains(path: string, options: LoadChainsOptions): Promise<LoadedChains> {
  return parseChains(await readTextFile(path), path, options);
}
