// A tokenizer's chat format: its chat template (the model's own, else the default one) bound to its ids. This is
// what chains, staged generation, `mote chat`, `mote eval` and the self generator of `aligncot build` go through:
//
//   prompt ids  = BOS (unless the template writes it) + encode(render(messages, add_generation_prompt))
//   chain ids   = BOS + encode(render(question turns, add_generation_prompt) + step blocks) + end-of-turn id
//   generation  stops at any end-of-turn id (and at the model's EOS ids)
//
// BOS: the tokenizer adds its BOS to the rendered text, as TRL and the alignment handbook tokenize chat-formatted
// text, unless the text already starts with `bos_token` (Llama-3 and Mistral templates write it), so there is never a
// double BOS. (transformers' `apply_chat_template(tokenize=True)` adds none itself: for TinyLlama, whose template
// does not write `<s>`, it differs from ours by that one leading `<s>`; the model was fine-tuned with it.)
//
// End of turn: the special tokens in what the template writes after an assistant message (chat-template.ts), in
// order; the first one ends a chain (`<|im_end|>`, `<|eot_id|>`, `</s>`, `<|end|>`). When there is none (the default
// template writes only "\n") the tokenizer's EOS ends a chain, as it always has for the llama2.c models.

import { type ChatMessage, ChatTemplate, defaultChatTemplate } from './chat-template.js';
import type { Tokenizer } from './tokenizer.js';

/** A chat template bound to a tokenizer's ids (`chatFormat` builds it). */
export interface ChatFormat {
  readonly template: ChatTemplate;
  /** The id a chain ends with, after its last step block: the template's end-of-turn token, else EOS (−1: none). */
  readonly endOfTurnId: number;
  /** Every id that ends an assistant turn: the special tokens the template writes after one, and EOS. */
  readonly endOfTurnIds: readonly number[];
  /** Rendered text → ids, BOS first unless the text starts with the template's `bos_token`. */
  encode(text: string): number[];
  /** The ids generation starts from: `encode(render(messages, { addGenerationPrompt: true }))`. */
  promptIds(messages: readonly ChatMessage[]): number[];
  /** The ids that stop generation: `endOfTurnIds` and the model's EOS ids (config.json's `eos_token_id` list). */
  stopIds(modelEosIds?: readonly number[]): Set<number>;
}

const formats = new WeakMap<Tokenizer, ChatFormat>();

/**
 * The chat format of `tokenizer`, built once per tokenizer: its `chatTemplate` when it has one (a FormatError naming
 * the file when that template does not parse or render), else DEFAULT_CHAT_TEMPLATE.
 */
export function chatFormat(tokenizer: Tokenizer): ChatFormat {
  let format = formats.get(tokenizer);
  if (!format) {
    format = new TokenizerChatFormat(tokenizer, templateOf(tokenizer));
    formats.set(tokenizer, format);
  }
  return format;
}

/** The template a tokenizer carries, parsed, or the default one. */
function templateOf(t: Tokenizer): ChatTemplate {
  if (typeof t.chatTemplate !== 'string') return defaultChatTemplate();
  const source = t.chatTemplateSource ?? { file: 'tokenizer_config.json', field: 'chat_template' };
  return new ChatTemplate(t.chatTemplate, {
    ...source,
    bosToken: t.bosToken ?? null,
    eosToken: t.eosToken ?? null,
  });
}

class TokenizerChatFormat implements ChatFormat {
  readonly endOfTurnId: number;
  readonly endOfTurnIds: readonly number[];

  constructor(
    private readonly tokenizer: Tokenizer,
    readonly template: ChatTemplate,
  ) {
    const found = specialTokensIn(template.endOfTurn, tokenizer, template.eosToken);
    const eos = tokenizer.eosId;
    this.endOfTurnId = found[0] ?? eos;
    this.endOfTurnIds = Object.freeze([...new Set(eos >= 0 ? [...found, eos] : found)]);
  }

  encode(text: string): number[] {
    const bos = this.template.bosToken;
    const written = bos !== null && bos !== '' && text.startsWith(bos);
    return this.tokenizer.encode(text, { bos: !written });
  }

  promptIds(messages: readonly ChatMessage[]): number[] {
    return this.encode(this.template.render(messages, { addGenerationPrompt: true }));
  }

  stopIds(modelEosIds: readonly number[] = []): Set<number> {
    return new Set([...this.endOfTurnIds, ...modelEosIds]);
  }
}

/**
 * The ids of the special tokens (the tokenizer's added special tokens, and `eosToken`) written in `text`, in order of
 * appearance, each once; the longest token wins where two start at the same place.
 */
function specialTokensIn(text: string, tokenizer: Tokenizer, eosToken: string | null): number[] {
  const pieces = new Map(tokenizer.specialTokens);
  const eosId = eosToken === null ? undefined : tokenizer.pieceToId(eosToken);
  if (eosToken !== null && eosId !== undefined) pieces.set(eosToken, eosId);
  const ids: number[] = [];
  for (let at = 0; at < text.length; ) {
    let best: [string, number] | undefined;
    for (const entry of pieces)
      if (text.startsWith(entry[0], at) && entry[0].length > (best?.[0].length ?? 0)) best = entry;
    if (!best) {
      at++;
      continue;
    }
    if (!ids.includes(best[1])) ids.push(best[1]);
    at += best[0].length;
  }
  return ids;
}
