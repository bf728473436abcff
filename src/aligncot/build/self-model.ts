// A Generator over the project's own model: self-alignment in the strict sense (method.md §1, the chains
// are produced by the model being aligned). The messages are rendered in the model's chat format with its
// generation prompt (tokenizer/chat-format.ts), then sampled as `generate` samples, stopping at the template's end of
// turn. A model without a chat template of its own (the default template, whose generation prompt is empty: a
// chain-trained model opens its reply with a step token) gets the "Assistant:" cue of the role-line format instead,
// and stops at the next "\nUser:" line, so a base model answers as the assistant rather than continuing the dialogue.
// The pipeline's concurrent requests share one continuous batch (PlainBatcher): up to `batchSize` replies are decoded
// together.

import { promptRoom } from '../../generate/limits.js';
import { PlainBatcher } from '../../generate/plain-batch.js';
import type { GenerateConfig } from '../../generate/types.js';
import type { Transformer } from '../../model/transformer.js';
import { chatFormat } from '../../tokenizer/chat-format.js';
import { type ChatTemplate, defaultChatTemplate } from '../../tokenizer/chat-template.js';
import type { Tokenizer } from '../../tokenizer/tokenizer.js';
import type { ChatMessage, Generator } from './generator.js';

/** Options of `createModelGenerator`. */
export interface ModelGeneratorOptions {
  /** Provenance name (`meta.generator`). Default 'self'. */
  name?: string;
  /**
   * Sampling of each reply; `seed` comes from the request. Defaults: temperature 0.8, topP 0.9,
   * maxTokens 128 (at most half the context); with the default template, stop at "\nUser:".
   */
  generate?: Partial<Omit<GenerateConfig, 'seed'>>;
  /** Replies decoded together (the pipeline's concurrency should be at least this). Default 8. */
  batchSize?: number;
}

/** The cue appended to a default-template prompt (role lines), and where such a reply stops. */
const ASSISTANT_CUE = 'Assistant:';
const NEXT_TURN = '\nUser:';

/**
 * The prompt text of a chat: the messages rendered by `template` with its generation prompt (`<|im_start|>assistant\n`
 * for ChatML), or, with the default template, "User: …\n" lines and an "Assistant:" cue.
 */
export function chatPrompt(
  messages: readonly ChatMessage[],
  template: ChatTemplate = defaultChatTemplate(),
): string {
  const text = template.render(messages, { addGenerationPrompt: true });
  return template.isDefault ? `${text}${ASSISTANT_CUE}` : text;
}

/**
 * A Generator that samples from `model`. A prompt longer than the context keeps its first token (BOS, or the
 * template's first) and its last tokens (the instruction of a template comes first, so long questions lose their
 * start, never the generation prompt).
 */
export function createModelGenerator(
  model: Transformer,
  tokenizer: Tokenizer,
  options: ModelGeneratorOptions = {},
): Generator {
  const { maxSeqLen } = model.config;
  const chat = chatFormat(tokenizer);
  const stop = chat.template.isDefault ? [NEXT_TURN] : [];
  const config = { temperature: 0.8, topP: 0.9, maxTokens: 128, stop, ...options.generate };
  // the library's rule (generate/limits.ts): the reply's room counts at most half the context
  const room = promptRoom(maxSeqLen, config.maxTokens);
  const maxTokens = Math.max(1, maxSeqLen - room);
  let batcher: Promise<PlainBatcher> | null = null;
  return {
    name: options.name ?? 'self',
    async complete(request) {
      if (request.signal?.aborted) throw request.signal.reason;
      let ids = chat.encode(chatPrompt(request.messages, chat.template));
      if (ids.length > room) ids = [ids[0], ...ids.slice(ids.length - (room - 1))];
      batcher ??= PlainBatcher.create(model, tokenizer, {
        batchSize: options.batchSize,
        decoder: config.decoder,
      });
      const out = await (await batcher).generate(ids, { ...config, maxTokens, seed: request.seed });
      return out.text;
    },
  };
}
