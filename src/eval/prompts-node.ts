// Prompt files on disk (the formats are prompts.ts), and the examples' held-out split.
import { fileURLToPath } from 'node:url';
import { readTextFile } from '../util/text-file.js';
import { type EvalPrompt, type EvalPromptOptions, parseEvalPrompts } from './prompts.js';

/** Where the held-out eval split of the examples lives in a clone of the repository (not in the npm package). */
export const EXAMPLE_EVAL_PROMPTS = fileURLToPath(
  new URL('../../examples/data/eval-prompts.jsonl', import.meta.url),
);

/** Reads a prompt file (gzip detected by its name or magic bytes). See `parseEvalPrompts`. */
export async function loadEvalPrompts(path: string, options: EvalPromptOptions = {}): Promise<EvalPrompt[]> {
  return parseEvalPrompts(await readTextFile(path), path, options);
}
