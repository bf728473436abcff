// One prompt's plain generation (text continuation) as a state machine: it samples each next token from the logits
// it is given and decides whether to go on. `generateStream` drives one on a decoder, a continuous batch
// (plain-batch.ts) drives many; the stopping rules live here only:
//   - a stop id (BOS, EOS, the model's EOS ids, the chat template's end-of-turn tokens) ends it without being kept;
//   - a stop string ends it with the text cut before the string;
//   - `maxTokens` new tokens, or a full context, end it.
import type { Transformer } from '../model/transformer.js';
import { chatFormat } from '../tokenizer/chat-format.js';
import type { StreamDecoder, Tokenizer } from '../tokenizer/tokenizer.js';
import type { BatchJob, JobFeed } from './batch/continuous.js';
import { createSampler, tokenizerLogits } from './sampler.js';
import type { GenerateConfig, GenerateResult, StopReason, TokenEvent } from './types.js';

/** The ids that end a plain generation (with `stopAtEos`): the chat format's stop ids and BOS (run.c stops on BOS). */
export function generationStopIds(model: Transformer, tokenizer: Tokenizer): Set<number> {
  return chatFormat(tokenizer).stopIds(model.config.eosTokenIds).add(tokenizer.bosId);
}

export class PlainSequence implements BatchJob {
  private readonly ids: number[] = [];
  private readonly sample: (logits: Float32Array) => number;
  private readonly stream: StreamDecoder;
  private readonly stopIds: ReadonlySet<number>;
  private readonly maxSeqLen: number;
  /** The tokenizer's ids: sampling never picks a row beyond them (padding rows, sampler.ts tokenizerLogits). */
  private readonly vocabSize: number;
  private text = '';
  /** Chars of `text` already handed out by `takeToken`. */
  private emitted = 0;
  private stopReason: StopReason = 'max-tokens';
  /** The token the last `advance` kept (null: it kept none). */
  private last: TokenEvent | null = null;

  constructor(
    readonly prompt: readonly number[],
    model: Transformer,
    tokenizer: Tokenizer,
    private readonly c: Readonly<GenerateConfig>,
  ) {
    if (prompt.length === 0)
      throw new Error('generate: empty prompt (encode with BOS, or pass at least one id)');
    this.sample = createSampler(c);
    this.stream = tokenizer.streamDecoder(prompt[prompt.length - 1]);
    this.stopIds = generationStopIds(model, tokenizer);
    this.maxSeqLen = model.config.maxSeqLen;
    this.vocabSize = tokenizer.vocabSize;
  }

  /** Samples after `logits` (the sequence holds `position` positions): the token to feed, or null when it ends. */
  advance(logits: Float32Array, position: number): JobFeed | null {
    const { c } = this;
    this.last = null;
    const id = this.sample(tokenizerLogits(logits, this.vocabSize));
    if (c.stopAtEos && this.stopIds.has(id)) return this.finish('eos');
    this.ids.push(id);
    this.text += this.stream.push(id);
    const hit = firstStop(this.text, c.stop);
    if (hit >= 0) this.text = this.text.slice(0, hit);
    // hold back a tail that could still become a stop string
    const safe = hit >= 0 ? this.text.length : this.text.length - heldBack(this.text, c.stop);
    this.last = { id, text: this.text.slice(this.emitted, Math.max(this.emitted, safe)) };
    this.emitted = Math.max(this.emitted, safe);
    if (hit >= 0) return this.finish('stop-string');
    if (this.ids.length >= c.maxTokens) return this.finish('max-tokens');
    if (position >= this.maxSeqLen) return this.finish('context');
    return { id };
  }

  /** The token the last `advance` kept and the text it completes (null after a stop id). */
  takeToken(): TokenEvent | null {
    const t = this.last;
    this.last = null;
    return t;
  }

  private finish(reason: StopReason): null {
    this.stopReason = reason;
    if (reason !== 'stop-string') this.text += this.stream.flush();
    return null;
  }

  /** The generation so far (final once `advance` has returned null). */
  get result(): GenerateResult {
    return { text: this.text, ids: this.ids, promptIds: [...this.prompt], stopReason: this.stopReason };
  }
}

/** Index of the earliest stop string in `text`, or −1. */
export function firstStop(text: string, stops: readonly string[]): number {
  let best = -1;
  for (const s of stops) {
    const i = text.indexOf(s);
    if (i >= 0 && (best < 0 || i < best)) best = i;
  }
  return best;
}

/** Length of the longest suffix of `text` that is a proper prefix of some stop string. */
function heldBack(text: string, stops: readonly string[]): number {
  let n = 0;
  for (const s of stops)
    for (let k = Math.min(s.length - 1, text.length); k > n; k--) if (text.endsWith(s.slice(0, k))) n = k;
  return n;
}
