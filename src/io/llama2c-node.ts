// llama2.c checkpoint files on disk (the format is llama2c.ts).
import { readFile } from 'node:fs/promises';
import type { BuildOptions, Transformer } from '../model/transformer.js';
import { writeFileAtomic } from './atomic.js';
import { encodeLlama2c, llama2cFromBytes } from './llama2c.js';

/** Loads a llama2.c v0 checkpoint file into a Transformer (base weights frozen unless `trainable`). */
export async function loadLlama2c(path: string, options: BuildOptions = {}): Promise<Transformer> {
  return llama2cFromBytes(await readFile(path), path, options);
}

/** Writes a model as a llama2.c v0 checkpoint that run.c can read (added token rows are not part of it). */
export async function saveLlama2c(model: Transformer, path: string): Promise<void> {
  let bytes: Uint8Array;
  try {
    bytes = encodeLlama2c(model);
  } catch (e) {
    throw new Error(`saveLlama2c: ${(e as Error).message}`, { cause: e });
  }
  await writeFileAtomic(path, bytes);
}
