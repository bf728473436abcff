// Tokenizers shipped as "slow" files instead of tokenizer.json, assembled into the tokenizer.json that transformers
// itself converts them to (convert_slow_tokenizer.py `Qwen2Converter`, `TikTokenConverter`, and the Llama-3 converter
// of convert_llama_weights_to_hf.py; read, not copied):
// - byte-level BPE `vocab.json` + `merges.txt`, as Qwen2 ships them, with tokenizer_config.json's added tokens;
// - GPT-2-layout `encoder.json` + `vocab.bpe` holding Llama-3's 128,000 BPE ranks, plus Llama-3's 256 special tokens.

import { FormatError } from '../util/errors.js';
import type { TokenizerConfig } from './tokenizer-config.js';
import {
  addedTokenJson,
  byteLevelBpeModel,
  checkVocab,
  markChecked,
  mergePair,
  missingPiece,
  type TokenizerJson,
} from './tokenizer-json.js';

/**
 * Qwen2's split: contractions (any case), letter runs with one leading non-letter, single digits, punctuation runs
 * with their line breaks, line-break runs, then other whitespace (the last space stays with the next word).
 */
export const QWEN2_SPLIT_PATTERN = String.raw`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;

/** Llama-3's split (tiktoken's cl100k pattern): as Qwen2's, but digits in runs of up to three. */
export const LLAMA3_SPLIT_PATTERN = String.raw`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;

/** Llama-3's BPE ranks: the ids of encoder.json; the special tokens follow them. */
export const LLAMA3_RANKS = 128_000;

/**
 * Llama-3.1/3.2's special tokens, ids 128000–128255 in order (transformers' list for those versions; Llama-3.0
 * names ids 128004, 128008 and 128010 reserved tokens instead).
 */
export const LLAMA3_SPECIAL_TOKENS: readonly string[] = Object.freeze([
  '<|begin_of_text|>',
  '<|end_of_text|>',
  '<|reserved_special_token_0|>',
  '<|reserved_special_token_1|>',
  '<|finetune_right_pad_id|>',
  '<|reserved_special_token_2|>',
  '<|start_header_id|>',
  '<|end_header_id|>',
  '<|eom_id|>',
  '<|eot_id|>',
  '<|python_tag|>',
  ...Array.from({ length: 245 }, (_, i) => `<|reserved_special_token_${i + 3}|>`),
]);

/** Where each slow file came from, for errors. */
export interface SlowFileNames {
  vocab: string;
  merges: string;
}

/** A byte-level pre-tokenizer/post-processor/decoder entry (the three share the serialised form). */
function byteLevel(addPrefixSpace: boolean, trimOffsets: boolean, useRegex: boolean) {
  return {
    type: 'ByteLevel',
    add_prefix_space: addPrefixSpace,
    trim_offsets: trimOffsets,
    use_regex: useRegex,
  };
}

/** Split on `pattern` (matches and the text between them are words), then bytes → byte-level characters. */
function splitThenByteLevel(pattern: string, addPrefixSpace: boolean) {
  return {
    type: 'Sequence',
    pretokenizers: [
      { type: 'Split', pattern: { Regex: pattern }, behavior: 'Isolated', invert: false },
      byteLevel(addPrefixSpace, true, false),
    ],
  };
}

/** The BPE model of checked parts (marked so that HfTokenizer does not check them again). */
function bpeModel(vocab: Record<string, number>, merges: string[], ignoreMerges: boolean) {
  return markChecked(byteLevelBpeModel(vocab, merges, ignoreMerges));
}

/**
 * The tokenizer.json of a Qwen2 `vocab.json` + `merges.txt` (already read: `vocab` parsed, `merges` the text), with
 * the added tokens of `config` (`added_tokens_decoder`): NFC, Qwen2's split, byte-level BPE without unknown token.
 */
export function qwen2TokenizerJson(
  vocab: unknown,
  merges: string,
  config: TokenizerConfig,
  files: SlowFileNames,
): TokenizerJson {
  const pieces = readVocab(vocab, files.vocab);
  const addPrefixSpace = config.raw.add_prefix_space === true;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: config.addedTokens.map((t) => ({ ...t })),
    normalizer: { type: 'NFC' },
    pre_tokenizer: splitThenByteLevel(QWEN2_SPLIT_PATTERN, addPrefixSpace),
    post_processor: byteLevel(false, false, false),
    decoder: byteLevel(false, false, false),
    model: bpeModel(pieces, parseMerges(merges, pieces, files.merges), false),
  };
}

/**
 * The tokenizer.json of Llama-3's ranks in GPT-2 layout (`encoder` parsed encoder.json, `merges` the text of
 * vocab.bpe): Llama-3's split, byte-level BPE that takes a word found whole in the vocabulary without merging (as
 * tiktoken does), the 256 special tokens, and a post-processor that starts a sequence with `<|begin_of_text|>`.
 */
export function llama3TokenizerJson(encoder: unknown, merges: string, files: SlowFileNames): TokenizerJson {
  const pieces = readVocab(encoder, files.vocab);
  const size = Object.keys(pieces).length;
  if (size !== LLAMA3_RANKS)
    throw new FormatError(
      files.vocab,
      '',
      `has ${size} entries; encoder.json + vocab.bpe are read as Llama-3's ${LLAMA3_RANKS} BPE ranks (GPT-2's own files are not supported)`,
    );
  const bos = LLAMA3_SPECIAL_TOKENS[0];
  const bosId = LLAMA3_RANKS;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: LLAMA3_SPECIAL_TOKENS.map((content, i) => addedTokenJson(LLAMA3_RANKS + i, content, true)),
    normalizer: null,
    pre_tokenizer: splitThenByteLevel(LLAMA3_SPLIT_PATTERN, false),
    post_processor: {
      type: 'Sequence',
      processors: [
        byteLevel(true, false, true),
        {
          type: 'TemplateProcessing',
          single: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
          pair: [
            { SpecialToken: { id: bos, type_id: 0 } },
            { Sequence: { id: 'A', type_id: 0 } },
            { SpecialToken: { id: bos, type_id: 1 } },
            { Sequence: { id: 'B', type_id: 1 } },
          ],
          special_tokens: { [bos]: { id: bos, ids: [bosId], tokens: [bos] } },
        },
      ],
    },
    decoder: byteLevel(true, true, true),
    model: bpeModel(pieces, parseMerges(merges, pieces, files.merges), true),
  };
}

/**
 * merges.txt / vocab.bpe text → merges in rank order, as tokenizer.json's `"left right"` strings (the form every
 * tokenizers version reads; byte-level pieces hold no space). An optional `#version` first line and a final empty
 * line are skipped; any other line must be two pieces of `vocab` separated by one space. Errors name `file` and
 * the line (1-based).
 */
export function parseMerges(text: string, vocab: Record<string, number>, file: string): string[] {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const out: string[] = [];
  lines.forEach((raw, i) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (i === 0 && line.startsWith('#version')) return;
    const parts = mergePair(line);
    if (parts === null)
      throw new FormatError(
        file,
        `line ${i + 1}`,
        `${JSON.stringify(line.slice(0, 80))} is not two pieces separated by one space`,
      );
    const missing = missingPiece(vocab, parts[0], parts[1]);
    if (missing !== null)
      throw new FormatError(file, `line ${i + 1}`, `${JSON.stringify(missing)} is not in the vocabulary`);
    out.push(line);
  });
  return out;
}

/** A parsed vocab.json / encoder.json: an object of piece → non-negative integer id, no id twice. */
function readVocab(value: unknown, file: string): Record<string, number> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new FormatError(
      file,
      '(root)',
      `got ${JSON.stringify(value)?.slice(0, 80)}; expected an object of piece → id`,
    );
  const vocab = value as Record<string, number>;
  checkVocab(vocab, file, '');
  return vocab;
}
