// A PEFT export directory on disk loaded into a model (peft-import.ts over the directory's files).
import type { Transformer } from '../model/transformer.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { directoryFiles } from './files-node.js';
import { importPeftAdapterFiles, type PeftImportResult } from './peft-import.js';

/**
 * Loads an export directory of `exportPeftAdapters` (or a plain PEFT LoRA adapter directory) into `model`; see
 * `importPeftAdapterFiles`.
 */
export function importPeftAdapters(
  model: Transformer,
  tokenizer: Tokenizer,
  dir: string,
): Promise<PeftImportResult> {
  return importPeftAdapterFiles(model, tokenizer, directoryFiles(dir));
}
