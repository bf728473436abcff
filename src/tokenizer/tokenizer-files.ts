// A Hugging Face tokenizer from the contents of its files (texts or parsed objects), in whichever format a model
// ships: tokenizer.json, or the slow files vocab.json + merges.txt (Qwen2) or encoder.json + vocab.bpe (Llama-3).
// No file system here, so browsers can use it; load-tokenizer.ts reads the files in Node.

import { check, FormatError } from '../util/errors.js';
import { chatFormat } from './chat-format.js';
import { HfTokenizer } from './hf-tokenizer.js';
import { LLAMA3_SPECIAL_TOKENS, llama3TokenizerJson, qwen2TokenizerJson } from './slow-tokenizer-files.js';
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

/** A tokenizer file that `tokenizerFromFiles` reads (tokenizer.bin is llama2.c's, read by loadTokenizer). */
export type TokenizerFileKey = Exclude<keyof typeof TOKENIZER_FILE_NAMES, 'llama2cBin'>;

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
  names?: Partial<Record<TokenizerFileKey, string>>;
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
 * else encoder.json + vocab.bpe (Llama-3). Malformed contents are FormatErrors naming the file and field or line; so
 * is a chat template that does not parse or render.
 */
export function tokenizerFromFiles(files: TokenizerFiles, options: LoadTokenizerOptions = {}): HfTokenizer {
  const name = (key: TokenizerFileKey) => files.names?.[key] ?? TOKENIZER_FILE_NAMES[key];
  const json = (key: TokenizerFileKey) => asJson(files[key], name(key));
  let config: TokenizerConfig =
    files.tokenizerConfig === undefined
      ? NO_TOKENIZER_CONFIG
      : readTokenizerConfig(json('tokenizerConfig'), name('tokenizerConfig'));
  const common = {
    chatTemplate: files.chatTemplate,
    chatTemplateFile: name('chatTemplate'),
    bosToken: options.bosToken,
    eosToken: options.eosToken,
  };
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
  // The chat template is parsed and tried now, so a broken one fails here, before any weights are read.
  chatFormat(tokenizer);
  return tokenizer;
}

// ---------------------------------------------------------------------------------------------------
// helpers

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

function pair(
  files: TokenizerFiles,
  a: TokenizerFileKey,
  b: TokenizerFileKey,
  name: (key: TokenizerFileKey) => string,
): boolean {
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
