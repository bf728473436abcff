// Loading and saving tokenizers on disk (Node only: `fs` is imported lazily so the module also loads in browsers).
// One entry point picks the format: llama2.c tokenizer.bin, or Hugging Face tokenizer.json (file or model dir).

import { check, FormatError } from '../util/errors.js';
import type { BpeTokenizer } from './bpe-tokenizer.js';
import { type TokenizerJsonOptions, tokenizerFromJson } from './hf-tokenizer-json.js';
import { tokenizerConfigJson, tokenizerToJson } from './hf-tokenizer-json-writer.js';
import { loadLlama2cTokenizer } from './llama2c-tokenizer.js';
import type { Tokenizer } from './tokenizer.js';

/** Options of `loadTokenizer`. */
export interface LoadTokenizerOptions {
  /**
   * The model's vocabulary size. llama2.c .bin: the number of tokens in the file (required to be exact).
   * tokenizer.json: an upper bound on the tokenizer's ids (a model may pad its embedding beyond them).
   */
  vocabSize?: number;
  /** tokenizer.json only: BOS piece (default: tokenizer_config.json beside the file, then the template). */
  bosToken?: string;
  /** tokenizer.json only: EOS piece (default: tokenizer_config.json beside the file, then well-known names). */
  eosToken?: string;
}

/**
 * Loads a tokenizer, choosing the format by the path: a directory means its `tokenizer.json`; a `.bin` file is
 * a llama2.c tokenizer.bin; a `.json` file, or any other file whose first non-blank character is `{`, is a HF
 * tokenizer.json; anything else is read as tokenizer.bin.
 */
export async function loadTokenizer(path: string, options: LoadTokenizerOptions = {}): Promise<Tokenizer> {
  const { open, stat } = await import('node:fs/promises');
  const { join } = await import('node:path');
  if ((await stat(path)).isDirectory()) return loadTokenizerJson(join(path, 'tokenizer.json'), options);
  if (path.endsWith('.bin')) return loadLlama2cTokenizer(path, options.vocabSize);
  if (path.endsWith('.json')) return loadTokenizerJson(path, options);
  const file = await open(path);
  const { buffer, bytesRead } = await file.read({ buffer: Buffer.alloc(64) }).finally(() => file.close());
  const looksJson = buffer.subarray(0, bytesRead).toString('utf8').trimStart().startsWith('{');
  return looksJson ? loadTokenizerJson(path, options) : loadLlama2cTokenizer(path, options.vocabSize);
}

/**
 * Reads a HF tokenizer.json (see `tokenizerFromJson`). BOS/EOS come from the options, else from a
 * `tokenizer_config.json` in the same directory (its `bos_token` / `eos_token`), else from the file itself.
 */
export async function loadTokenizerJson(
  path: string,
  options: LoadTokenizerOptions = {},
): Promise<BpeTokenizer> {
  const { readFile } = await import('node:fs/promises');
  const { dirname, join } = await import('node:path');
  const json = parseJson(await readFile(path, 'utf8'), path);
  const configPath = join(dirname(path), 'tokenizer_config.json');
  const config = await readFile(configPath, 'utf8').then(
    (text) => parseJson(text, configPath) as Record<string, unknown> | null,
    () => null,
  );
  const jsonOptions: TokenizerJsonOptions = {
    source: path,
    bosToken: options.bosToken ?? tokenName(config?.bos_token),
    eosToken: options.eosToken ?? tokenName(config?.eos_token),
  };
  const tokenizer = tokenizerFromJson(json, jsonOptions);
  if (options.vocabSize !== undefined) {
    check(
      Number.isInteger(options.vocabSize) && options.vocabSize >= tokenizer.vocabSize,
      'vocabSize',
      options.vocabSize,
      `an integer ≥ ${tokenizer.vocabSize}, the number of ids in ${path}`,
    );
  }
  return tokenizer;
}

/**
 * Writes `tokenizer.json` and `tokenizer_config.json` into `dir` (created if missing), the layout
 * transformers' `AutoTokenizer.from_pretrained(dir)` and `loadTokenizer(dir)` read.
 */
export async function saveHfTokenizer(tokenizer: BpeTokenizer, dir: string): Promise<void> {
  const { mkdir, writeFile } = await import('node:fs/promises');
  const { join } = await import('node:path');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'tokenizer.json'), `${JSON.stringify(tokenizerToJson(tokenizer), null, 2)}\n`);
  await writeFile(
    join(dir, 'tokenizer_config.json'),
    `${JSON.stringify(tokenizerConfigJson(tokenizer), null, 2)}\n`,
  );
}

function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new FormatError(file, '', `not valid JSON (${(e as Error).message})`);
  }
}

/** tokenizer_config.json writes a token as a string or as an AddedToken object `{ content, … }`. */
function tokenName(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  const content = (value as { content?: unknown } | null)?.content;
  return typeof content === 'string' ? content : undefined;
}
