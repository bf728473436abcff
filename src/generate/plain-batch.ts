// Plain generation (text continuation, as `generate`) of many prompts in one continuous batch (batch/continuous.ts):
// concurrent callers, e.g. the workers of `aligncot build --generator self`, share one batch, and each prompt gets
// what `generate` gives it alone (the same stopping rules, its own seeded sampler).
import type { Transformer } from '../model/transformer.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { check } from '../util/errors.js';
import { ContinuousBatch } from './batch/continuous.js';
import { rowDecoderFor } from './choose.js';
import { resolveGenerateConfig } from './generate.js';
import { PlainSequence } from './plain-sequence.js';
import { DEFAULT_STAGED_BATCH_SIZE } from './staged-batch.js';
import type { GenerateConfig, GenerateResult } from './types.js';

/** Options of a PlainBatcher: the row decoder, and how many prompts run together. */
export interface PlainBatchOptions {
  /** Most prompts decoded together. Default 8. */
  batchSize?: number;
  /** 'auto' (measured, choose.ts), 'host' or 'tensor'. Default 'auto'. */
  decoder?: GenerateConfig['decoder'];
}

/** A continuous batch of plain generations that concurrent callers share. */
export class PlainBatcher {
  private constructor(
    private readonly model: Transformer,
    private readonly tokenizer: Tokenizer,
    private readonly batch: ContinuousBatch,
    readonly decoder: 'host' | 'tensor',
  ) {}

  static async create(
    model: Transformer,
    tokenizer: Tokenizer,
    options: PlainBatchOptions = {},
  ): Promise<PlainBatcher> {
    const { batchSize = DEFAULT_STAGED_BATCH_SIZE, decoder = 'auto' } = options;
    check(Number.isInteger(batchSize) && batchSize > 0, 'batchSize', batchSize, 'a positive integer');
    check(['auto', 'host', 'tensor'].includes(decoder), 'decoder', decoder, "'auto', 'host' or 'tensor'");
    const rows = await rowDecoderFor(model, decoder, { merged: true, batchSize, caller: 'PlainBatcher' });
    return new PlainBatcher(model, tokenizer, new ContinuousBatch(rows.open, batchSize), rows.kind);
  }

  /** `generate(model, tokenizer, prompt, config)` in the shared batch (the config's decoder is the batcher's). */
  async generate(
    prompt: string | readonly number[],
    config: Partial<GenerateConfig> = {},
  ): Promise<GenerateResult> {
    const c = resolveGenerateConfig(config);
    const ids = typeof prompt === 'string' ? this.tokenizer.encode(prompt, { bos: true }) : [...prompt];
    const seq = new PlainSequence(ids, this.model, this.tokenizer, c);
    await this.batch.submit(seq);
    return seq.result;
  }
}

/** Plain generations of every prompt, `batchSize` at a time; results in input order. */
export async function generateBatch(
  model: Transformer,
  tokenizer: Tokenizer,
  prompts: readonly (string | readonly number[])[],
  config: Partial<GenerateConfig> & PlainBatchOptions = {},
): Promise<GenerateResult[]> {
  const { batchSize, decoder, ...rest } = config;
  const batcher = await PlainBatcher.create(model, tokenizer, { batchSize, decoder });
  const settled = await Promise.allSettled(prompts.map((p) => batcher.generate(p, rest)));
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
  return settled.map((s) => (s as PromiseFulfilledResult<GenerateResult>).value);
}
