// A PEFT export (peft.ts) written into a directory, one file at a time, each atomically.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Transformer } from '../model/transformer.js';
import { Llama2cTokenizer } from '../tokenizer/llama2c-tokenizer.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { writeFileAtomic } from './atomic.js';
import { type PeftFilesOptions, type PeftFilesSummary, peftAdapterFiles } from './peft.js';

export interface PeftExportOptions extends Omit<PeftFilesOptions, 'tokenizerBin'> {
  /** The tokenizer.bin a llama2.c tokenizer was read from: needed to write tokenizer.json. */
  tokenizerPath?: string;
}

/** What was written. */
export interface PeftExportSummary extends PeftFilesSummary {
  dir: string;
}

/**
 * Writes the attached experts of `model` (kind 'mote' or 'lora') as PEFT LoRA adapters into `dir` (the files of
 * `peftAdapterFiles`): for MoTE one sub-directory per step expert and `shared/`, for a single LoRA the adapter
 * files in `dir` itself; plus mote_config.json, added_tokens.json and (when it can) the tokenizer with its added
 * tokens. Files are written atomically one by one.
 */
export async function exportPeftAdapters(
  model: Transformer,
  tokenizer: Tokenizer,
  dir: string,
  options: PeftExportOptions = {},
): Promise<PeftExportSummary> {
  const { tokenizerPath, ...rest } = options;
  const tokenizerBin =
    tokenizerPath && tokenizer instanceof Llama2cTokenizer
      ? new Uint8Array(await readFile(tokenizerPath))
      : undefined;
  const { files, summary } = peftAdapterFiles(model, tokenizer, { ...rest, tokenizerBin });
  for (const [name, bytes] of files) await writeFileAtomic(join(dir, name), bytes);
  return { dir, ...summary };
}
