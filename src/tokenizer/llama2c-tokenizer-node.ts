// A llama2.c tokenizer.bin read from disk (the format is llama2c-tokenizer.ts `Llama2cTokenizer.fromBuffer`).
import { readFile } from 'node:fs/promises';
import { Llama2cTokenizer } from './llama2c-tokenizer.js';

/** Reads a llama2.c tokenizer.bin from disk; `vocabSize`, when given, must be the number of tokens in it. */
export async function loadLlama2cTokenizer(path: string, vocabSize?: number): Promise<Llama2cTokenizer> {
  const bytes = await readFile(path);
  return Llama2cTokenizer.fromBuffer(
    new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    vocabSize,
    path,
  );
}
