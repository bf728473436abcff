// Loading tokenizers from disk and saving them: a file or a model directory (load-tokenizer.ts over the directory's
// files).
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { directoryFiles } from '../io/files-node.js';
import type { HfTokenizer } from './hf-tokenizer.js';
import { loadLlama2cTokenizer } from './llama2c-tokenizer-node.js';
import { readTokenizerFiles, tokenizerFromFileSet } from './load-tokenizer.js';
import type { Tokenizer } from './tokenizer.js';
import { type LoadTokenizerOptions, TOKENIZER_FILE_NAMES, tokenizerFromFiles } from './tokenizer-files.js';

/**
 * Loads a tokenizer from a model directory (the first format found: tokenizer.json, vocab.json + merges.txt,
 * encoder.json + vocab.bpe, tokenizer.bin) or a file: a `.bin` is a llama2.c tokenizer.bin; vocab.json, merges.txt,
 * encoder.json or vocab.bpe stand for their pair in that directory; a `.json` file, or any other file whose first
 * non-blank character is `{`, is a tokenizer.json (tokenizer_config.json and chat_template.jinja are read from its
 * directory); anything else is read as tokenizer.bin. Missing or unreadable files are errors naming the path.
 */
export async function loadTokenizer(path: string, options: LoadTokenizerOptions = {}): Promise<Tokenizer> {
  const info = await stat(path).catch((e: NodeJS.ErrnoException) => {
    throw new Error(
      `cannot read tokenizer ${path}: ${e.code === 'ENOENT' ? 'no such file or directory' : e.message}`,
    );
  });
  if (info.isDirectory()) return tokenizerFromFileSet(directoryFiles(path), options);
  const base = basename(path);
  const N = TOKENIZER_FILE_NAMES;
  if (base === N.vocabJson || base === N.mergesTxt)
    return tokenizerFromFileSet(directoryFiles(dirname(path)), options, 'qwen2');
  if (base === N.encoderJson || base === N.vocabBpe)
    return tokenizerFromFileSet(directoryFiles(dirname(path)), options, 'llama3');
  if (path.endsWith('.bin')) return loadLlama2cTokenizer(path, options.vocabSize);
  const text = await readFile(path, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw new Error(`cannot read ${path}: ${e.code ?? e.message}`);
  });
  if (!path.endsWith('.json') && !text.trimStart().startsWith('{'))
    return loadLlama2cTokenizer(path, options.vocabSize);
  const aside = await readTokenizerFiles(directoryFiles(dirname(path)), ['tokenizerConfig', 'chatTemplate']);
  return tokenizerFromFiles(
    { ...aside.contents, tokenizerJson: text, names: { ...aside.names, tokenizerJson: path } },
    options,
  );
}

/**
 * Writes `tokenizer.json` and `tokenizer_config.json` into `dir` (created if missing), the layout transformers'
 * `AutoTokenizer.from_pretrained(dir)` and `loadTokenizer(dir)` read, special tokens added since loading included.
 */
export async function saveHfTokenizer(tokenizer: HfTokenizer, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const write = (name: string, value: unknown) =>
    writeFile(join(dir, name), `${JSON.stringify(value, null, 2)}\n`);
  await write(TOKENIZER_FILE_NAMES.tokenizerJson, tokenizer.toTokenizerJson());
  await write(TOKENIZER_FILE_NAMES.tokenizerConfig, tokenizer.toTokenizerConfig());
}
