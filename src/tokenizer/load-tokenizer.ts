// Loading and saving tokenizers. The format comes from a file or a model directory: tokenizer.json (with the
// tokenizer_config.json and chat_template.jinja beside it), else vocab.json + merges.txt, else encoder.json +
// vocab.bpe, else a llama2.c tokenizer.bin. Node's fs is imported lazily so that the module also loads in a browser
// bundle, where `tokenizerFromFiles` takes the files' contents (texts or parsed objects) directly.

import { check, FormatError } from '../util/errors.js';
import { HfTokenizer } from './hf-tokenizer.js';
import { loadLlama2cTokenizer } from './llama2c-tokenizer.js';
import { LLAMA3_SPECIAL_TOKENS, llama3TokenizerJson, qwen2TokenizerJson } from './slow-tokenizer-files.js';
import type { Tokenizer } from './tokenizer.js';
import { NO_TOKENIZER_CONFIG, readTokenizerConfig, type TokenizerConfig } from './tokenizer-config.js';

/** The standard names of the tokenizer files of a model directory. */
export const TOKENIZER_FILE_NAMES = Object.freeze({
  tokenizerJson: 'tokenizer.json',
  tokenizerConfig: 'tokenizer_config.json',
  chatTemplate: 'chat_template.jinja',
  vocabJson: 'vocab.json',
  mergesTxt: 'merges.txt',
  encoderJson: 'encoder.json',
  vocabBpe: 'vocab.bpe',
  llama2cBin: 'tokenizer.bin',
});

type FileKey = Exclude<keyof typeof TOKENIZER_FILE_NAMES, 'llama2cBin'>;

/** The contents of a model's tokenizer files; JSON files as text or already parsed. */
export interface TokenizerFiles {
  tokenizerJson?: unknown;
  tokenizerConfig?: unknown;
  /** chat_template.jinja: replaces tokenizer_config.json's chat_template. */
  chatTemplate?: string;
  /** vocab.json + merges.txt: byte-level BPE as Qwen2 ships it (added tokens from tokenizer_config.json). */
  vocabJson?: unknown;
  mergesTxt?: string;
  /** encoder.json + vocab.bpe: Llama-3's BPE ranks in GPT-2's file layout. */
  encoderJson?: unknown;
  vocabBpe?: string;
  /** The name (or path) of each file, for errors. Default: TOKENIZER_FILE_NAMES. */
  names?: Partial<Record<FileKey, string>>;
}

/** Options of `loadTokenizer` and `tokenizerFromFiles`. */
export interface LoadTokenizerOptions {
  /**
   * The model's embedding rows. llama2.c tokenizer.bin: the number of tokens in the file (required to be exact).
   * Hugging Face files: an upper bound on the tokenizer's ids (a model may pad its embedding beyond them).
   */
  vocabSize?: number;
  /** Hugging Face files: BOS piece, overriding tokenizer_config.json. */
  bosToken?: string;
  /** Hugging Face files: EOS piece, overriding tokenizer_config.json. */
  eosToken?: string;
}

/**
 * A Hugging Face tokenizer from its files' contents: tokenizer.json when given, else vocab.json + merges.txt (Qwen2),
 * else encoder.json + vocab.bpe (Llama-3). Malformed contents are FormatErrors naming the file and field or line.
 */
export function tokenizerFromFiles(files: TokenizerFiles, options: LoadTokenizerOptions = {}): HfTokenizer {
  const name = (key: FileKey) => files.names?.[key] ?? TOKENIZER_FILE_NAMES[key];
  const json = (key: FileKey) => asJson(files[key], name(key));
  let config: TokenizerConfig =
    files.tokenizerConfig === undefined
      ? NO_TOKENIZER_CONFIG
      : readTokenizerConfig(json('tokenizerConfig'), name('tokenizerConfig'));
  const common = { chatTemplate: files.chatTemplate, bosToken: options.bosToken, eosToken: options.eosToken };
  const tokenizer = (() => {
    if (files.tokenizerJson !== undefined)
      return new HfTokenizer(json('tokenizerJson'), { ...common, config, source: name('tokenizerJson') });
    const qwen2 = pair(files, 'vocabJson', 'mergesTxt', name);
    if (qwen2) {
      const cls = config.raw.tokenizer_class;
      if (cls !== undefined && cls !== 'Qwen2Tokenizer' && cls !== 'Qwen2TokenizerFast')
        throw new FormatError(
          name('tokenizerConfig'),
          'tokenizer_class',
          `got ${JSON.stringify(cls)}; ${name('vocabJson')} + ${name('mergesTxt')} are assembled as Qwen2Tokenizer files only (give the model's tokenizer.json instead)`,
        );
      const names = { vocab: name('vocabJson'), merges: name('mergesTxt') };
      const assembled = qwen2TokenizerJson(json('vocabJson'), files.mergesTxt!, config, names);
      return new HfTokenizer(assembled, { ...common, config, source: `${names.vocab} + ${names.merges}` });
    }
    if (pair(files, 'encoderJson', 'vocabBpe', name)) {
      const names = { vocab: name('encoderJson'), merges: name('vocabBpe') };
      const assembled = llama3TokenizerJson(json('encoderJson'), files.vocabBpe!, names);
      if (files.tokenizerConfig === undefined) config = llama3Config(files.chatTemplate !== undefined);
      return new HfTokenizer(assembled, { ...common, config, source: `${names.vocab} + ${names.merges}` });
    }
    throw new Error(
      `no tokenizer files: expected ${name('tokenizerJson')}, ${name('vocabJson')} + ${name('mergesTxt')}, or ${name('encoderJson')} + ${name('vocabBpe')}`,
    );
  })();
  checkIdCount(tokenizer, options.vocabSize);
  return tokenizer;
}

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
  keys: readonly FileKey[],
  options: LoadTokenizerOptions,
): Promise<HfTokenizer> {
  const { contents, names } = await readSome(dir, keys);
  return tokenizerFromFiles({ ...contents, names }, options);
}

/** Reads the files of `keys` that exist in `dir` (absent ones are left out); names are their paths. */
async function readSome(dir: string, keys: readonly FileKey[]) {
  const { join } = await import('node:path');
  const contents: Partial<Record<FileKey, string>> = {};
  const names: Partial<Record<FileKey, string>> = {};
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

/** Text is parsed (errors name the file, line and column); anything else is taken as already parsed. */
function asJson(value: unknown, file: string): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch (e) {
    const message = (e as Error).message;
    const at = /position (\d+)/.exec(message);
    let where = '';
    if (at) {
      const before = value.slice(0, Number(at[1]));
      const line = before.split('\n').length;
      where = `line ${line} column ${before.length - before.lastIndexOf('\n')}`;
    }
    throw new FormatError(file, where, `not valid JSON (${message})`);
  }
}

function pair(files: TokenizerFiles, a: FileKey, b: FileKey, name: (key: FileKey) => string): boolean {
  if ((files[a] === undefined) !== (files[b] === undefined))
    throw new Error(
      `${name(files[a] === undefined ? b : a)} needs ${name(files[a] === undefined ? a : b)} beside it`,
    );
  return files[a] !== undefined;
}

/**
 * The tokenizer_config.json transformers' Llama-3 converter writes: BOS `<|begin_of_text|>`, EOS `<|eot_id|>` for
 * an instruct model (one with a chat template) and `<|end_of_text|>` for a base model, clean-up on.
 */
function llama3Config(instruct: boolean): TokenizerConfig {
  const config = {
    tokenizer_class: 'PreTrainedTokenizerFast',
    bos_token: LLAMA3_SPECIAL_TOKENS[0],
    eos_token: instruct ? '<|eot_id|>' : '<|end_of_text|>',
    clean_up_tokenization_spaces: true,
  };
  return readTokenizerConfig(config, 'the Llama-3 defaults');
}

/** The model's rows must cover the tokenizer's ids (more rows is normal: Qwen2.5 pads 151,665 ids to 151,936). */
function checkIdCount(tokenizer: HfTokenizer, vocabSize: number | undefined): void {
  if (vocabSize === undefined) return;
  check(
    Number.isInteger(vocabSize) && vocabSize >= tokenizer.vocabSize,
    'vocabSize',
    vocabSize,
    `an integer ≥ ${tokenizer.vocabSize}, the number of ids in ${tokenizer.source}`,
  );
}
