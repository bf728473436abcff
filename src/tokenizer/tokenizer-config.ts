// What mote reads from a Hugging Face tokenizer_config.json: the names of the BOS/EOS/PAD tokens, the added tokens
// (`added_tokens_decoder`, for files without a tokenizer.json), the chat template, and the decoding clean-up flag.
// Format: transformers `tokenization_utils_base.py` (`save_pretrained` / `from_pretrained`, read, not copied).

import { FormatError } from '../util/errors.js';
import type { AddedTokenJson } from './tokenizer-json.js';

/** The facts of a tokenizer_config.json (all optional in the file). */
export interface TokenizerConfig {
  /** Names the file in errors. */
  source: string;
  /** The object itself, written back (updated) when the tokenizer is saved. */
  raw: Record<string, unknown>;
  bosToken: string | null;
  eosToken: string | null;
  padToken: string | null;
  /** `add_bos_token` when the file says it (Llama-style slow tokenizers prepend BOS when true). */
  addBosToken: boolean | null;
  /** The jinja chat template; a named list keeps its `default` entry (else its first). */
  chatTemplate: string | null;
  /** `clean_up_tokenization_spaces`: transformers' decode removes spaces before punctuation. Default false. */
  cleanUp: boolean;
  /** `added_tokens_decoder` entries, by id. */
  addedTokens: AddedTokenJson[];
}

/** An empty config (a tokenizer.json without its tokenizer_config.json). */
export const NO_TOKENIZER_CONFIG: Readonly<TokenizerConfig> = Object.freeze({
  source: 'tokenizer_config.json',
  raw: {},
  bosToken: null,
  eosToken: null,
  padToken: null,
  addBosToken: null,
  chatTemplate: null,
  cleanUp: false,
  addedTokens: [],
});

/** Reads a parsed tokenizer_config.json; `source` names the file in FormatErrors. */
export function readTokenizerConfig(value: unknown, source: string): TokenizerConfig {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new FormatError(source, '(root)', `got ${JSON.stringify(value)?.slice(0, 80)}; expected an object`);
  const c = value as Record<string, unknown>;
  const flag = (key: string): boolean | null => {
    const v = c[key];
    if (v === undefined || v === null) return null;
    if (typeof v !== 'boolean')
      throw new FormatError(source, key, `got ${JSON.stringify(v)}; expected true or false`);
    return v;
  };
  return {
    source,
    raw: c,
    bosToken: tokenName(c.bos_token, 'bos_token', source),
    eosToken: tokenName(c.eos_token, 'eos_token', source),
    padToken: tokenName(c.pad_token, 'pad_token', source),
    addBosToken: flag('add_bos_token'),
    chatTemplate: chatTemplate(c.chat_template, source),
    cleanUp: flag('clean_up_tokenization_spaces') ?? false,
    addedTokens: addedTokensDecoder(c.added_tokens_decoder, source),
  };
}

/** A token is written as a string or as an AddedToken object `{ content, … }`; null or absent means none. */
function tokenName(value: unknown, key: string, source: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return value;
  const content = (value as { content?: unknown }).content;
  if (typeof content === 'string') return content;
  throw new FormatError(
    source,
    key,
    `got ${JSON.stringify(value)}; expected a string or { "content": string }`,
  );
}

function chatTemplate(value: unknown, source: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) {
    const named = value as { name?: unknown; template?: unknown }[];
    const chosen = named.find((t) => t?.name === 'default') ?? named[0];
    if (typeof chosen?.template === 'string') return chosen.template;
  }
  throw new FormatError(
    source,
    'chat_template',
    `got ${JSON.stringify(value)?.slice(0, 80)}; expected a string or a list of { name, template }`,
  );
}

function addedTokensDecoder(value: unknown, source: string): AddedTokenJson[] {
  if (value === undefined || value === null) return [];
  if (typeof value !== 'object' || Array.isArray(value))
    throw new FormatError(source, 'added_tokens_decoder', 'expected an object of id → token');
  return Object.entries(value as Record<string, Record<string, unknown> | null>)
    .map(([key, t]) => {
      const where = `added_tokens_decoder[${JSON.stringify(key)}]`;
      const id = Number(key);
      if (!/^\d+$/.test(key) || !Number.isSafeInteger(id))
        throw new FormatError(source, where, 'the key is not a non-negative integer id');
      if (typeof t?.content !== 'string' || t.content === '')
        throw new FormatError(
          source,
          `${where}.content`,
          `got ${JSON.stringify(t?.content)}; expected a non-empty string`,
        );
      const special = t.special === true;
      return {
        id,
        content: t.content,
        single_word: t.single_word === true,
        lstrip: t.lstrip === true,
        rstrip: t.rstrip === true,
        normalized: typeof t.normalized === 'boolean' ? t.normalized : !special,
        special,
      };
    })
    .sort((a, b) => a.id - b.id);
}
