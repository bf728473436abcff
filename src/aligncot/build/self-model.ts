// A Generator over the project's own model: self-alignment in the strict sense (method.md §1, the chains
// are produced by the model being aligned). The messages are rendered with the chain template's role lines
// (format.ts) and an "Assistant:" cue, then sampled with `generate`.

import { type GenerateConfig, generate } from '../../generate/generate.js';
import { promptRoom } from '../../generate/limits.js';
import type { Transformer } from '../../model/transformer.js';
import type { Tokenizer } from '../../tokenizer/tokenizer.js';
import { formatQuestion } from '../format.js';
import type { ChatMessage, Generator } from './generator.js';

/** Options of `createModelGenerator`. */
export interface ModelGeneratorOptions {
  /** Provenance name (`meta.generator`). Default 'self'. */
  name?: string;
  /**
   * Sampling of each reply; `seed` comes from the request. Defaults: temperature 0.8, topP 0.9,
   * maxTokens 128 (at most half the context), stop at "\nUser:".
   */
  generate?: Partial<Omit<GenerateConfig, 'seed'>>;
}

/** The prompt text of a chat: "User: …\n" lines (one per message, as in chain text) and an "Assistant:" cue. */
export function chatPrompt(messages: readonly ChatMessage[]): string {
  return `${formatQuestion(messages)}Assistant:`;
}

/**
 * A Generator that samples from `model`. A prompt longer than the context keeps BOS and its last tokens
 * (the instruction of a template comes first, so long questions lose their start, never the cue).
 */
export function createModelGenerator(
  model: Transformer,
  tokenizer: Tokenizer,
  options: ModelGeneratorOptions = {},
): Generator {
  const { maxSeqLen } = model.config;
  const config = { temperature: 0.8, topP: 0.9, maxTokens: 128, stop: ['\nUser:'], ...options.generate };
  // the library's rule (generate/limits.ts): the reply's room counts at most half the context
  const room = promptRoom(maxSeqLen, config.maxTokens);
  const maxTokens = Math.max(1, maxSeqLen - room);
  return {
    name: options.name ?? 'self',
    async complete(request) {
      if (request.signal?.aborted) throw request.signal.reason;
      let ids = tokenizer.encode(chatPrompt(request.messages), { bos: true });
      if (ids.length > room) ids = [ids[0], ...ids.slice(ids.length - (room - 1))];
      const out = await generate(model, tokenizer, ids, { ...config, maxTokens, seed: request.seed });
      return out.text;
    },
  };
}
