// Writer for the tokenizer.json of a byte-level BPE that `trainBpe` makes (GPT-2 pre-tokenizer without prefix space,
// special tokens first, a template that starts a sequence with BOS), in the layout HF tokenizers itself serialises, so
// `tokenizers` / transformers / @huggingface/tokenizers (our HfTokenizer) load it.

import { addedTokenJson, byteLevelBpeModel, type TokenizerJson } from './tokenizer-json.js';

/** A trained byte-level BPE. */
export interface ByteLevelBpeSpec {
  /** The piece of each id: the special tokens, the 256 byte characters, then one piece per new merge. */
  vocab: readonly string[];
  /** Merge rules, highest priority first. */
  merges: readonly (readonly [string, string])[];
  /** The special tokens: ids 0..k-1 of `vocab`, matched whole in text. */
  specialTokens: readonly string[];
  /** The special token a sequence starts with. */
  bosToken: string;
}

/** The tokenizer.json object of a byte-level BPE (merges in the `"left right"` form every HF version reads). */
export function byteLevelBpeJson(spec: ByteLevelBpeSpec): TokenizerJson {
  const bos = { SpecialToken: { id: spec.bosToken, type_id: 0 } };
  const bosId = spec.vocab.indexOf(spec.bosToken);
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: spec.specialTokens.map((content, id) => addedTokenJson(id, content, true)),
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: {
      type: 'TemplateProcessing',
      single: [bos, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [bos, { Sequence: { id: 'A', type_id: 0 } }, bos, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { [spec.bosToken]: { id: spec.bosToken, ids: [bosId], tokens: [spec.bosToken] } },
    },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: byteLevelBpeModel(
      // fromEntries defines own properties, so a piece such as "__proto__" stays a key
      Object.fromEntries(spec.vocab.map((piece, id) => [piece, id])),
      spec.merges.map(([a, b]) => `${a} ${b}`),
    ),
  };
}
