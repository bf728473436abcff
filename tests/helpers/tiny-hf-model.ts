// A tiny Hugging Face model directory WITH a tokenizer, for the tests that load bases the way users do: seeded
// random weights at a toy shape (hf-reference.ts), config.json of the family, and a 265-id SentencePiece-style
// tokenizer.json (tests/unit/tokenizer/fixtures.ts `llamaTiny`: byte fallback, so any text encodes). `rows` may
// exceed the 265 ids, as Qwen2.5 pads its vocabulary.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { llamaTiny } from '../unit/tokenizer/fixtures.js';
import { type TinyHfSpec, tinyHfWeights, writeTinyHfDir } from './hf-reference.js';

/** Ids of the tiny tokenizer. */
export const TINY_TOKENIZER_IDS = 265;

export interface TinyHfModelOptions {
  family?: TinyHfSpec['family'];
  /** Embedding rows (config.json vocab_size). Default 265 (no padding). */
  rows?: number;
  tied?: boolean;
  /** max_position_embeddings. Default 256. */
  positions?: number;
  seed?: string;
}

/** Writes the model and its tokenizer into `dir` (created); returns the spec. */
export async function writeTinyHfModel(dir: string, options: TinyHfModelOptions = {}): Promise<TinyHfSpec> {
  const spec: TinyHfSpec = {
    family: options.family ?? 'qwen2',
    hidden: 16,
    intermediate: 24,
    layers: 2,
    heads: 4,
    kvHeads: 2,
    vocab: options.rows ?? TINY_TOKENIZER_IDS,
    positions: options.positions ?? 256,
    tied: options.tied ?? true,
    ropeTheta: 10000,
    eps: 1e-6,
  };
  await writeTinyHfDir(dir, spec, tinyHfWeights(spec, options.seed ?? 'tiny-hf-model'));
  await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(llamaTiny('legacy')));
  return spec;
}
