// Tokenizer files (hf-tokenizer-files.ts) written into a directory.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Llama2cTokenizer } from '../tokenizer/llama2c-tokenizer.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { writeFileAtomic } from './atomic.js';
import { type TokenizerFilesOptions, tokenizerFileTexts } from './hf-tokenizer-files.js';

/**
 * Writes tokenizer.json and tokenizer_config.json for `tokenizer` into `dir`, so that transformers'
 * `AutoTokenizer.from_pretrained(dir)` and our `loadTokenizer(dir)` read it with its added special tokens.
 */
export async function saveTokenizerFiles(
  tokenizer: Tokenizer,
  dir: string,
  options: TokenizerFilesOptions = {},
): Promise<void> {
  const { llama2cPath } = options;
  if (tokenizer instanceof Llama2cTokenizer && !options.llama2cBin && !llama2cPath)
    throw new Error(
      'saveTokenizerFiles: a llama2.c tokenizer needs { llama2cPath } (the tokenizer.bin it came from)',
    );
  const bin =
    options.llama2cBin ??
    (tokenizer instanceof Llama2cTokenizer && llama2cPath
      ? new Uint8Array(await readFile(llama2cPath))
      : undefined);
  for (const [name, text] of tokenizerFileTexts(tokenizer, bin, llama2cPath))
    await writeFileAtomic(join(dir, name), text);
}
