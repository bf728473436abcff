// Chat templates: the jinja template a chat model ships (tokenizer_config.json `chat_template`, or a
// chat_template.jinja file), rendered with @huggingface/jinja, the engine transformers.js uses, with the variables
// transformers' `apply_chat_template` passes: `messages`, `add_generation_prompt`, `tools` and `documents` (none),
// `bos_token` and `eos_token`. A model without a template uses DEFAULT_CHAT_TEMPLATE, the plain role-line format of
// the llama2.c models, so every model goes through the same code (chat-format.ts binds a template to a tokenizer).
//
// The end of an assistant turn is read off the template itself: an assistant message with a sentinel content is
// rendered, and whatever the template writes after that content is the end of the turn (`<|im_end|>\n` for ChatML,
// `<|eot_id|>` for Llama-3, `</s>\n` for TinyLlama's Zephyr format, `<|end|>\n<|endoftext|>` for Phi-3.5, `\n` for
// the default template).

import { Template } from '@huggingface/jinja';
import { FormatError } from '../util/errors.js';

/** One message of a conversation. */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** Options of `new ChatTemplate`. */
export interface ChatTemplateOptions {
  /** The file the template came from, named in errors. Default '(chat template)'. */
  file?: string;
  /** The field of `file` that holds it (tokenizer_config.json: 'chat_template'); '' for a whole file. Default ''. */
  field?: string;
  /** The `bos_token` variable (tokenizer_config.json's bos_token). Default: undefined for the template. */
  bosToken?: string | null;
  /** The `eos_token` variable. Default: undefined for the template. */
  eosToken?: string | null;
  /**
   * Further variables, as transformers passes the extra keyword arguments of `apply_chat_template`. They replace
   * DEFAULT_TEMPLATE_VARIABLES key by key.
   */
  variables?: Readonly<Record<string, unknown>>;
}

/**
 * Variables every rendering gets unless `variables` replaces them. `date_string`: Llama-3.x templates print
 * "Today Date: …" from it, else from the clock (`strftime_now`); a fixed date makes a chain encode to the same ids
 * every day (this one is the templates' own fallback).
 */
export const DEFAULT_TEMPLATE_VARIABLES: Readonly<Record<string, unknown>> = Object.freeze({
  date_string: '26 Jul 2024',
});

/**
 * The template of a model without one: a "{Role}: {content}\n" line per message (System, User, Assistant), no
 * generation prompt (a chain-trained model opens its reply with a step token right after the question), nothing
 * after an assistant turn but its newline (so a chain ends with the tokenizer's EOS). It renders exactly what
 * aligncot/format.ts `formatQuestion` writes.
 */
export const DEFAULT_CHAT_TEMPLATE =
  '{%- for message in messages %}' +
  "{%- if message.role == 'system' %}{{- 'System: ' }}" +
  "{%- elif message.role == 'user' %}{{- 'User: ' }}" +
  "{%- elif message.role == 'assistant' %}{{- 'Assistant: ' }}" +
  "{%- else %}{{- raise_exception('unknown role ' + message.role + '; expected system, user or assistant') }}" +
  '{%- endif %}' +
  "{{- message.content + '\\n' }}" +
  '{%- endfor %}';

/** Where the default template is said to come from in errors. */
export const DEFAULT_TEMPLATE_FILE = '(default chat template)';

/** A parsed chat template; `render` turns messages into the model's prompt text. */
export class ChatTemplate {
  /** The template's jinja source. */
  readonly text: string;
  /** The file it came from (errors name it). */
  readonly file: string;
  /** The field of `file` that holds it, or ''. */
  readonly field: string;
  /** The `bos_token` it is given, or null. */
  readonly bosToken: string | null;
  /** The `eos_token` it is given, or null. */
  readonly eosToken: string | null;
  /** Whether this is DEFAULT_CHAT_TEMPLATE (the model has no chat format of its own). */
  readonly isDefault: boolean;
  /**
   * What the template writes after an assistant message's content (see the file header): the end of an assistant
   * turn, followed by anything it writes at the end of a conversation.
   */
  readonly endOfTurn: string;
  private readonly parsed: Template;
  private readonly variables: Readonly<Record<string, unknown>>;

  /**
   * Parses the template and finds its end of turn. A template that does not parse, or fails to render a one-turn
   * exchange, is a FormatError naming `file` (and `field`) with the jinja message.
   */
  constructor(text: string, options: ChatTemplateOptions = {}) {
    this.file = options.file ?? '(chat template)';
    this.field = options.field ?? '';
    if (typeof text !== 'string' || text.trim() === '')
      throw new FormatError(this.file, this.field, 'expected a jinja chat template, got an empty one');
    this.text = text;
    this.bosToken = options.bosToken ?? null;
    this.eosToken = options.eosToken ?? null;
    this.isDefault = text === DEFAULT_CHAT_TEMPLATE;
    this.variables = { ...DEFAULT_TEMPLATE_VARIABLES, ...options.variables };
    try {
      this.parsed = new Template(text);
    } catch (e) {
      throw this.error(`does not parse (@huggingface/jinja: ${(e as Error).message})`);
    }
    this.endOfTurn = this.findEndOfTurn();
  }

  /**
   * The conversation as the model's text. `addGenerationPrompt` (default false) appends what opens the assistant's
   * reply (`<|im_start|>assistant\n`; nothing for the default template). A template that raises (`raise_exception`)
   * or fails is a FormatError naming the file and the jinja message.
   */
  render(messages: readonly ChatMessage[], options: { addGenerationPrompt?: boolean } = {}): string {
    const vars: Record<string, unknown> = {
      ...this.variables,
      messages: messages.map((m) => ({ role: m.role, content: m.content })),
      add_generation_prompt: options.addGenerationPrompt ?? false,
      tools: null,
      documents: null,
    };
    if (this.bosToken !== null) vars.bos_token = this.bosToken;
    if (this.eosToken !== null) vars.eos_token = this.eosToken;
    try {
      return this.parsed.render(vars);
    } catch (e) {
      const roles = messages.map((m) => m.role).join(', ');
      throw this.error(`fails to render [${roles}] (@huggingface/jinja: ${(e as Error).message})`);
    }
  }

  // -------------------------------------------------------------------------------------------------
  // helpers

  /** The text after a sentinel assistant content in a user → assistant exchange. */
  private findEndOfTurn(): string {
    const text = this.render([
      { role: 'user', content: 'Hello.' },
      { role: 'assistant', content: SENTINEL },
    ]);
    const at = text.lastIndexOf(SENTINEL);
    if (at < 0)
      throw this.error(
        'does not write the content of an assistant message, so the end of an assistant turn cannot be found',
      );
    return text.slice(at + SENTINEL.length);
  }

  private error(reason: string): FormatError {
    return new FormatError(this.file, this.field, `the chat template ${reason}`);
  }
}

/** An assistant content no template changes (no surrounding whitespace: Llama-3 trims contents). */
const SENTINEL = 'MOTE_END_OF_TURN_PROBE';

let defaultTemplate: ChatTemplate | undefined;

/** DEFAULT_CHAT_TEMPLATE, parsed once. */
export function defaultChatTemplate(): ChatTemplate {
  defaultTemplate ??= new ChatTemplate(DEFAULT_CHAT_TEMPLATE, { file: DEFAULT_TEMPLATE_FILE });
  return defaultTemplate;
}
