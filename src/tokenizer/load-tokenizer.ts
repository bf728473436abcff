// Loading tokenizers from disk and saving them (Node only: `fs` is imported lazily, and browsers use
// tokenizer-files.ts directly). The format comes from a file or a model directory: tokenizer.json (with the
// tokenizer_config.json and chat_template.jinja beside it), else vocab.json + merges.txt, else encoder.json +
// vocab.bpe, else a llama2.c tokenizer.bin.

import type { HfTokenizer } from './hf-tokenizer.js';
import { loadLlama2cTokenizer } from './llama2c-tokenizer.js';
import type { Tokenizer } from './tokenizer.js';
import {
  type LoadTokenizerOptions,
  TOKENIZER_FILE_NAMES,
  type TokenizerFileKey,
  tokenizerFromFiles,
} from './tokenizer-files.js';

/**
 * Loads a tokenizer from a model directory (the first format found: tokenizer.json, vocab.json + merges.txt,
 * encoder.json + vocab.bpe, tokenizer.bin) or a file: a `.bin` is a llama2.c tokenizer.bin; vocab.json, merges.txt,
 * encoder.json or vocab.bpe stand for their pair in that directory; a `.json` file, or any other file whose first
 * non-blank character is `{`, is a tokenizer.json (tokenizer_config.json and chat_template.jinja are read from its
 * directory); anything else is read as tokenizer.bin. Missing or unreadable files are errors naming the path.
 */
export async function loadTokenizer(path: string, options: LoadTokenizerOptions = {}): Promise<Tokenizer> {
  const { basename, dirname } = await import('node:path');
  const info = await (await import('node:fs/promises')).stat(path).catch((e: NodeJS.ErrnoException) => {
    throw new Error(
      `cannot read tokenizer ${path}: ${e.code === 'ENOENT' ? 'no such file or directory' : e.message}`,
    );
  });
  if (info.isDirectory()) return loadFromDirectory(path, options);
  const base = basename(path);
  const N = TOKENIZER_FILE_NAMES;
  if (base === N.vocabJson || base === N.mergesTxt) return loadFromDirectory(dirname(path), options, 'qwen2');
  if (base === N.encoderJson || base === N.vocabBpe)
    return loadFromDirectory(dirname(path), options, 'llama3');
  if (path.endsWith('.bin')) return loadLlama2cTokenizer(path, options.vocabSize);
  const text = (await readText(path)) as string;
  if (!path.endsWith('.json') && !text.trimStart().startsWith('{'))
    return loadLlama2cTokenizer(path, options.vocabSize);
  const dir = dirname(path);
  const files = await readSome(dir, ['tokenizerConfig', 'chatTemplate']);
  return tokenizerFromFiles(
    { ...files.contents, tokenizerJson: text, names: { ...files.names, tokenizerJson: path } },
    options,
  );
}

/**
 * Writes `tokenizer.json` and `tokenizer_config.json` into `dir` (created if missing), the layout transformers'
 * `AutoTokenizer.from_pretrained(dir)` and `loadTokenizer(dir)` read, special tokens added since loading included.
 */
export async function saveHfTokenizer(tokenizer: HfTokenizer, dir: string): Promise<void> {
  const { mkdir, writeFile } = await import('node:fs/promises');
  const { join } = await import('node:path');
  await mkdir(dir, { recursive: true });
  const write = (name: string, value: unknown) =>
    writeFile(join(dir, name), `${JSON.stringify(value, null, 2)}\n`);
  await write(TOKENIZER_FILE_NAMES.tokenizerJson, tokenizer.toTokenizerJson());
  await write(TOKENIZER_FILE_NAMES.tokenizerConfig, tokenizer.toTokenizerConfig());
}

// ---------------------------------------------------------------------------------------------------
// helpers

async function loadFromDirectory(
  dir: string,
  options: LoadTokenizerOptions,
  only?: 'qwen2' | 'llama3',
): Promise<Tokenizer> {
  const { join } = await import('node:path');
  const { existsSync } = await import('node:fs');
  const N = TOKENIZER_FILE_NAMES;
  const has = (file: string) => existsSync(join(dir, file));
  const half = (a: string, b: string) => has(a) !== has(b);
  const aside = ['tokenizerConfig', 'chatTemplate'] as const;
  if (!only && has(N.tokenizerJson)) return fromDir(dir, ['tokenizerJson', ...aside], options);
  for (const [kind, a, b] of [
    ['qwen2', 'vocabJson', 'mergesTxt'],
    ['llama3', 'encoderJson', 'vocabBpe'],
  ] as const) {
    if (only && only !== kind) continue;
    if (half(N[a], N[b]))
      throw new Error(
        `${dir}: found ${has(N[a]) ? N[a] : N[b]} without ${has(N[a]) ? N[b] : N[a]}; both are needed`,
      );
    if (has(N[a])) return fromDir(dir, [a, b, ...aside], options);
  }
  if (!only && has(N.llama2cBin)) return loadLlama2cTokenizer(join(dir, N.llama2cBin), options.vocabSize);
  throw new Error(
    `${dir}: no tokenizer files (looked for ${N.tokenizerJson}, ${N.vocabJson} + ${N.mergesTxt}, ${N.encoderJson} + ${N.vocabBpe}, ${N.llama2cBin})`,
  );
}

async function fromDir(
  dir: string,
  keys: readonly TokenizerFileKey[],
  options: LoadTokenizerOptions,
): Promise<HfTokenizer> {
  const { contents, names } = await readSome(dir, keys);
  return tokenizerFromFiles({ ...contents, names }, options);
}

/** Reads the files of `keys` that exist in `dir` (absent ones are left out); names are their paths. */
async function readSome(dir: string, keys: readonly TokenizerFileKey[]) {
  const { join } = await import('node:path');
  const contents: Partial<Record<TokenizerFileKey, string>> = {};
  const names: Partial<Record<TokenizerFileKey, string>> = {};
  for (const key of keys) {
    const path = join(dir, TOKENIZER_FILE_NAMES[key]);
    const text = await readText(path, true);
    if (text === undefined) continue;
    contents[key] = text;
    names[key] = path;
  }
  return { contents, names };
}

/** A file's text; a missing file is undefined when `optional`, any other failure an error naming the path. */
async function readText(path: string, optional = false): Promise<string | undefined> {
  const { readFile } = await import('node:fs/promises');
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (optional && err.code === 'ENOENT') return undefined;
    throw new Error(`cannot read ${path}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
  }
}
