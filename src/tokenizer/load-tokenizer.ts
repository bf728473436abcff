// A tokenizer from a model directory's files, wherever they are (a FileSet: io/files.ts): tokenizer.json (with the
// tokenizer_config.json and chat_template.jinja beside it), else vocab.json + merges.txt, else encoder.json +
// vocab.bpe, else a llama2.c tokenizer.bin. Paths on disk are load-tokenizer-node.ts.
import type { FileSet } from '../io/files.js';
import { Llama2cTokenizer } from './llama2c-tokenizer.js';
import type { Tokenizer } from './tokenizer.js';
import {
  type LoadTokenizerOptions,
  TOKENIZER_FILE_NAMES,
  type TokenizerFileKey,
  tokenizerFromFiles,
} from './tokenizer-files.js';

/**
 * A tokenizer from `files`, in the first format found (tokenizer.json, vocab.json + merges.txt, encoder.json +
 * vocab.bpe, tokenizer.bin); `format` looks for that pair only. Half of a pair, or no tokenizer file at all, is an
 * error naming the set.
 */
export async function tokenizerFromFileSet(
  files: FileSet,
  options: LoadTokenizerOptions = {},
  format?: 'qwen2' | 'llama3',
): Promise<Tokenizer> {
  const N = TOKENIZER_FILE_NAMES;
  const present = new Set<string>();
  for (const name of Object.values(N)) if ((await files.size(name)) !== null) present.add(name);
  const has = (file: string) => present.has(file);
  const half = (a: string, b: string) => has(a) !== has(b);
  const aside = ['tokenizerConfig', 'chatTemplate'] as const;
  if (!format && has(N.tokenizerJson)) return fromSet(files, ['tokenizerJson', ...aside], options);
  for (const [kind, a, b] of [
    ['qwen2', 'vocabJson', 'mergesTxt'],
    ['llama3', 'encoderJson', 'vocabBpe'],
  ] as const) {
    if (format && format !== kind) continue;
    if (half(N[a], N[b]))
      throw new Error(
        `${files.label}: found ${has(N[a]) ? N[a] : N[b]} without ${has(N[a]) ? N[b] : N[a]}; both are needed`,
      );
    if (has(N[a])) return fromSet(files, [a, b, ...aside], options);
  }
  if (!format && has(N.llama2cBin))
    return Llama2cTokenizer.fromBuffer(
      await files.read(N.llama2cBin),
      options.vocabSize,
      files.path(N.llama2cBin),
    );
  throw new Error(
    `${files.label}: no tokenizer files (looked for ${N.tokenizerJson}, ${N.vocabJson} + ${N.mergesTxt}, ${N.encoderJson} + ${N.vocabBpe}, ${N.llama2cBin})`,
  );
}

async function fromSet(
  files: FileSet,
  keys: readonly TokenizerFileKey[],
  options: LoadTokenizerOptions,
): Promise<Tokenizer> {
  const { contents, names } = await readTokenizerFiles(files, keys);
  return tokenizerFromFiles({ ...contents, names }, options);
}

/** The texts of the files of `keys` that `files` has (absent ones are left out), and their names for errors. */
export async function readTokenizerFiles(files: FileSet, keys: readonly TokenizerFileKey[]) {
  const contents: Partial<Record<TokenizerFileKey, string>> = {};
  const names: Partial<Record<TokenizerFileKey, string>> = {};
  for (const key of keys) {
    const name = TOKENIZER_FILE_NAMES[key];
    if ((await files.size(name)) === null) continue;
    contents[key] = new TextDecoder().decode(await files.read(name));
    names[key] = files.path(name);
  }
  return { contents, names };
}
