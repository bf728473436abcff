// Text generation: prompt → tokens, streamed (llama2.c `generate`, with sampling and stop conditions).
import type { LinearContext } from '../model/linear.js';
import type { Transformer } from '../model/transformer.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { check } from '../util/errors.js';
import { fasterDecoder } from './choose.js';
import { HostDecoder, TensorDecoder } from './decoder.js';
import { PlainSequence } from './plain-sequence.js';
import { DEFAULT_SAMPLING_CONFIG, resolveSamplingConfig } from './sampler.js';
import type { Decoder, GenerateConfig, GenerateResult, TokenEvent } from './types.js';

export const DEFAULT_GENERATE_CONFIG: Readonly<GenerateConfig> = Object.freeze({
  ...DEFAULT_SAMPLING_CONFIG,
  maxTokens: 256,
  stopAtEos: true,
  stop: [],
  decoder: 'auto',
});

export function resolveGenerateConfig(partial: Partial<GenerateConfig> = {}): Readonly<GenerateConfig> {
  const c = { ...DEFAULT_GENERATE_CONFIG, ...partial };
  resolveSamplingConfig(c);
  check(Number.isInteger(c.maxTokens) && c.maxTokens > 0, 'maxTokens', c.maxTokens, 'a positive integer');
  check(
    Array.isArray(c.stop) && c.stop.every((s) => typeof s === 'string' && s.length > 0),
    'stop',
    c.stop,
    'an array of non-empty strings',
  );
  check(['auto', 'host', 'tensor'].includes(c.decoder), 'decoder', c.decoder, "'auto', 'host' or 'tensor'");
  return Object.freeze(c);
}

/**
 * The decoding engine for one sequence: 'auto' takes the faster of the host and tensor decoders, measured on this
 * model's shape and backend the first time (choose.ts).
 */
export async function createDecoder(
  model: Transformer,
  kind: GenerateConfig['decoder'] = 'auto',
  ctx?: LinearContext,
): Promise<Decoder> {
  const host = kind === 'host' || (kind === 'auto' && (await fasterDecoder(model, ctx)) === 'host');
  return host ? new HostDecoder(model, ctx) : new TensorDecoder(model, 1, ctx);
}

/**
 * Streams generated tokens. The prompt is a string (encoded with BOS) or ids; prompt tokens are fed
 * in one step, then one token per step. The final value of the iterator is the GenerateResult.
 */
export async function* generateStream(
  model: Transformer,
  tokenizer: Tokenizer,
  prompt: string | readonly number[],
  config: Partial<GenerateConfig> = {},
  ctx?: LinearContext,
): AsyncGenerator<TokenEvent, GenerateResult> {
  const c = resolveGenerateConfig(config);
  const promptIds = typeof prompt === 'string' ? tokenizer.encode(prompt, { bos: true }) : [...prompt];
  const seq = new PlainSequence(promptIds, model, tokenizer, c);
  const decoder = await createDecoder(model, c.decoder, ctx);
  try {
    let logits = (await decoder.next([promptIds]))[0];
    for (;;) {
      const feed = seq.advance(logits, decoder.position);
      const token = seq.takeToken();
      if (token) yield token;
      if (feed === null) break;
      await Promise.resolve(); // let consumers interleave
      logits = (await decoder.next([[feed.id]]))[0];
    }
  } finally {
    decoder.dispose();
  }
  return seq.result;
}

/** Generates to completion and returns the text (a convenience over `generateStream`). */
export async function generate(
  model: Transformer,
  tokenizer: Tokenizer,
  prompt: string | readonly number[],
  config: Partial<GenerateConfig> = {},
  ctx?: LinearContext,
): Promise<GenerateResult> {
  const it = generateStream(model, tokenizer, prompt, config, ctx);
  for (;;) {
    const r = await it.next();
    if (r.done) return r.value;
  }
}
