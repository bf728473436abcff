// Writer for Hugging Face tokenizer.json (and the small tokenizer_config.json that names BOS/EOS) from a
// BpeTokenizer, in the layout HF tokenizers itself serialises, so `tokenizers` / transformers / tokenizers.js
// load what `trainBpe` makes.

import type { DecoderSpec, NormalizerStep, PreTokenizerSpec } from './bpe-pipeline.js';
import type { BpeTokenizer } from './bpe-tokenizer.js';

/**
 * The tokenizer.json object of `tokenizer`. Merges use the `"left right"` string form that every HF tokenizers
 * version reads, unless a piece contains a space (then the `[left, right]` form of tokenizers ≥ 0.20). The
 * post-processor is a template that prepends BOS, like `encode`'s default.
 */
export function tokenizerToJson(tokenizer: BpeTokenizer): Record<string, unknown> {
  const spec = tokenizer.spec;
  const { model } = spec;
  const spaced = model.merges.some(([a, b]) => a.includes(' ') || b.includes(' '));
  const bos = { SpecialToken: { id: spec.bosToken, type_id: 0 } };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [...spec.addedTokens]
      .sort((a, b) => a.id - b.id)
      .map(({ id, content, special }) => addedTokenJson(id, content, special)),
    normalizer: normalizerJson(spec.normalizer),
    pre_tokenizer: preTokenizerJson(spec.preTokenizer),
    post_processor: {
      type: 'TemplateProcessing',
      single: [bos, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [bos, { Sequence: { id: 'A', type_id: 0 } }, bos, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: {
        [spec.bosToken]: { id: spec.bosToken, ids: [tokenizer.bosId], tokens: [spec.bosToken] },
      },
    },
    decoder: decoderJson(spec.decoder),
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: model.unkToken ?? null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: model.fuseUnk ?? false,
      byte_fallback: model.byteFallback ?? false,
      ignore_merges: model.ignoreMerges ?? false,
      // fromEntries defines own properties, so a piece such as "__proto__" stays a key
      vocab: Object.fromEntries(model.vocab.map((piece, id) => [piece, id])),
      merges: model.merges.map(([a, b]) => (spaced ? [a, b] : `${a} ${b}`)),
    },
  };
}

/** One entry of tokenizer.json's added_tokens: matched whole, never stripped or normalised. */
export function addedTokenJson(id: number, content: string, special: boolean): Record<string, unknown> {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special };
}

/** A minimal tokenizer_config.json: transformers' `AutoTokenizer` reads BOS/EOS (and the class) from it. */
export function tokenizerConfigJson(tokenizer: BpeTokenizer): Record<string, unknown> {
  const { bosToken, eosToken } = tokenizer.spec;
  return { tokenizer_class: 'PreTrainedTokenizerFast', bos_token: bosToken, eos_token: eosToken };
}

function normalizerJson(steps: readonly NormalizerStep[]): unknown {
  const json = steps.map((s) =>
    s.type === 'Replace' ? { type: 'Replace', pattern: { String: s.pattern }, content: s.content } : { ...s },
  );
  if (json.length === 0) return null;
  return json.length === 1 ? json[0] : { type: 'Sequence', normalizers: json };
}

function preTokenizerJson(p: PreTokenizerSpec | null): unknown {
  if (p === null) return null;
  if (p.type === 'ByteLevel') {
    return {
      type: 'ByteLevel',
      add_prefix_space: p.addPrefixSpace,
      trim_offsets: true,
      use_regex: p.useRegex,
    };
  }
  return { type: 'Metaspace', replacement: p.replacement, prepend_scheme: p.prependScheme, split: p.split };
}

function decoderJson(d: DecoderSpec): unknown {
  if (d.type === 'ByteLevel')
    return { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true };
  const steps: unknown[] = [];
  if (d.replacement !== null)
    steps.push({ type: 'Replace', pattern: { String: d.replacement }, content: ' ' });
  if (d.byteFallback) steps.push({ type: 'ByteFallback' });
  steps.push({ type: 'Fuse' });
  if (d.stripLeadingSpaces > 0)
    steps.push({ type: 'Strip', content: ' ', start: d.stripLeadingSpaces, stop: 0 });
  return { type: 'Sequence', decoders: steps };
}
