// Plain generation (text continuation, as `generate`) of many prompts in one continuous batch (batch/continuous.ts):
// concurrent callers, e.g. the workers of `aligncot build --generator self`, share one batch, and each prompt gets
// what `generate` gives it alone (the same stopping rules, its own seeded sampler).
import type { Transformer } from '../model/transformer.js';
import type { StreamDecoder, Tokenizer } from '../tokenizer/tokenizer.js';
import { check } from '../util/errors.js';
import { type BatchJob, ContinuousBatch, type JobFeed } from './batch/continuous.js';
import { rowDecoderFor } from './choose.js';
import {
  firstStop,
  type GenerateConfig,
  type GenerateResult,
  resolveGenerateConfig,
  type StopReason,
} from './generate.js';
import { createSampler } from './sampler.js';
import { DEFAULT_STAGED_BATCH_SIZE } from './staged-batch.js';

/** One prompt's plain generation as a state machine: `generate`'s rules, deciding after each logits. */
export class PlainSequence implements BatchJob {
  private readonly ids: number[] = [];
  private readonly sample: (logits: Float32Array) => number;
  private readonly stream: StreamDecoder;
  private text = '';
  private stopReason: StopReason = 'max-tokens';

  constructor(
    readonly prompt: readonly number[],
    private readonly tokenizer: Tokenizer,
    private readonly c: Readonly<GenerateConfig>,
    private readonly maxSeqLen: number,
  ) {
    this.sample = createSampler(c);
    this.stream = tokenizer.streamDecoder(prompt[prompt.length - 1]);
  }

  advance(logits: Float32Array, position: number): JobFeed | null {
    const { c, tokenizer } = this;
    const id = this.sample(logits);
    if (c.stopAtEos && (id === tokenizer.eosId || id === tokenizer.bosId)) return this.finish('eos');
    this.ids.push(id);
    this.text += this.stream.push(id);
    const hit = firstStop(this.text, c.stop);
    if (hit >= 0) {
      this.text = this.text.slice(0, hit);
      return this.finish('stop-string');
    }
    if (this.ids.length >= c.maxTokens) return this.finish('max-tokens');
    if (position >= this.maxSeqLen) return this.finish('context');
    return { id };
  }

  private finish(reason: StopReason): null {
    this.stopReason = reason;
    if (reason !== 'stop-string') this.text += this.stream.flush();
    return null;
  }

  get result(): GenerateResult {
    return { text: this.text, ids: this.ids, promptIds: [...this.prompt], stopReason: this.stopReason };
  }
}

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
    if (ids.length === 0)
      throw new Error('generate: empty prompt (encode with BOS, or pass at least one id)');
    const seq = new PlainSequence(ids, this.tokenizer, c, this.model.config.maxSeqLen);
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
