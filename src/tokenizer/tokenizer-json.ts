// The parts of a Hugging Face tokenizer.json that mote reads itself (added tokens, the BPE vocabulary and merges,
// the post-processor's leading special token), checked before @huggingface/tokenizers builds the pipeline so that a
// malformed file fails with its name and the field. Format: huggingface/tokenizers `tokenizer/serialization.rs`,
// `models/bpe/serialization.rs`, `processors/template.rs` (read, not copied).

import { FormatError } from '../util/errors.js';

/** One entry of tokenizer.json's `added_tokens`: an atomic string matched in the text before the model runs. */
export interface AddedTokenJson {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  /** Matched in the normalized text (true) or in the raw text (false). */
  normalized: boolean;
  /** A control token (BOS, EOS, chat markers, step tokens) rather than ordinary text. */
  special: boolean;
}

/** tokenizer.json's `model` for BPE, the only model type mote loads. */
export interface BpeModelJson {
  type: 'BPE';
  /** Piece → id. */
  vocab: Record<string, number>;
  /** Merges, highest priority first: `"left right"` (every version) or `[left, right]` (tokenizers ≥ 0.20). */
  merges: (string | [string, string])[];
  [field: string]: unknown;
}

/** A tokenizer.json object with every top-level field present (null when the file has none). */
export interface TokenizerJson {
  version: string;
  truncation: unknown;
  padding: unknown;
  added_tokens: AddedTokenJson[];
  normalizer: unknown;
  pre_tokenizer: unknown;
  post_processor: unknown;
  decoder: unknown;
  model: BpeModelJson;
  [field: string]: unknown;
}

/**
 * A byte-level BPE model as HF tokenizers serialises it: no unknown token, no byte fallback, no dropout, merges in
 * the `"left right"` form every version reads. `ignoreMerges` (Llama-3) looks a whole word up before merging.
 */
export function byteLevelBpeModel(
  vocab: Record<string, number>,
  merges: string[],
  ignoreMerges = false,
): BpeModelJson {
  return {
    type: 'BPE',
    dropout: null,
    unk_token: null,
    continuing_subword_prefix: null,
    end_of_word_suffix: null,
    fuse_unk: false,
    byte_fallback: false,
    ignore_merges: ignoreMerges,
    vocab,
    merges,
  };
}

/** An added token as HF writes it: matched whole in the raw text, never stripped. */
export function addedTokenJson(id: number, content: string, special: boolean): AddedTokenJson {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special };
}

type Json = Record<string, unknown>;

/**
 * Checks a parsed tokenizer.json and returns it with missing top-level fields set to null (and `added_tokens` to
 * `[]`), as the HF library expects. Checked: a BPE model without dropout, integer ids without repeats, merges of two
 * pieces whose parts and result are in the vocabulary, added tokens with integer ids and non-empty contents that do
 * not contradict the vocabulary. `source` names the file in the FormatErrors.
 */
export function checkTokenizerJson(value: unknown, source: string): TokenizerJson {
  const root = object(value, source, '(root)');
  if (root.version !== undefined && root.version !== '1.0') fail(source, 'version', root.version, '"1.0"');
  const model = checkBpeModel(root.model, source);
  const addedTokens = checkAddedTokens(root.added_tokens, model.vocab, source);
  const pipeline = ['truncation', 'padding', 'normalizer', 'pre_tokenizer', 'post_processor', 'decoder'];
  const filled = Object.fromEntries(pipeline.map((key) => [key, root[key] ?? null]));
  return { ...root, ...filled, version: '1.0', added_tokens: addedTokens, model } as TokenizerJson;
}

function checkBpeModel(value: unknown, source: string): BpeModelJson {
  const m = object(value, source, 'model');
  if (CHECKED_MODELS.has(m)) return m as BpeModelJson;
  if (m.type !== 'BPE')
    fail(source, 'model.type', m.type, '"BPE" (Unigram, WordPiece and WordLevel models are not supported)');
  if (m.dropout !== undefined && m.dropout !== null && m.dropout !== 0)
    fail(source, 'model.dropout', m.dropout, 'null (BPE-dropout makes encoding random)');
  const vocab = object(m.vocab, source, 'model.vocab') as Record<string, number>;
  checkVocab(vocab, source, 'model.vocab');
  if (!Array.isArray(m.merges)) fail(source, 'model.merges', m.merges, 'an array');
  m.merges.forEach((merge: unknown, i: number) => {
    const where = `model.merges[${i}]`;
    const pair = mergePair(merge);
    if (!pair) fail(source, where, merge, '"left right" or ["left", "right"]');
    const missing = missingPiece(vocab, pair[0], pair[1]);
    if (missing !== null)
      throw new FormatError(source, where, `${JSON.stringify(missing)} is not in model.vocab`);
  });
  if (typeof m.unk_token === 'string' && !Object.hasOwn(vocab, m.unk_token))
    throw new FormatError(source, 'model.unk_token', `${JSON.stringify(m.unk_token)} is not in model.vocab`);
  return m as BpeModelJson;
}

/** Every id a non-negative integer, no id twice. `where` names the field (or is empty for a whole file). */
export function checkVocab(vocab: Record<string, number>, source: string, where: string): void {
  const seen: boolean[] = [];
  for (const piece in vocab) {
    const id = vocab[piece];
    if (!Number.isInteger(id) || id < 0)
      fail(source, `${where}[${JSON.stringify(piece)}]`, id, 'a non-negative integer id');
    if (seen[id]) {
      const other = Object.keys(vocab).find((p) => vocab[p] === id && p !== piece);
      throw new FormatError(
        source,
        `${where}[${JSON.stringify(piece)}]`,
        `id ${id} is also the id of ${JSON.stringify(other)}`,
      );
    }
    seen[id] = true;
  }
}

/**
 * BPE models whose vocabulary and merges were checked as they were read (slow files, with line numbers in the
 * errors), so `checkTokenizerJson` need not check them again.
 */
const CHECKED_MODELS = new WeakSet<object>();

/** Marks a model object built from checked parts (see CHECKED_MODELS). */
export function markChecked<T extends object>(model: T): T {
  CHECKED_MODELS.add(model);
  return model;
}

/** `"a b"` or `["a", "b"]` → the pair, or null for anything else. */
export function mergePair(merge: unknown): [string, string] | null {
  if (typeof merge === 'string') {
    const space = merge.indexOf(' ');
    const ok = space > 0 && space < merge.length - 1 && merge.indexOf(' ', space + 1) < 0;
    return ok ? [merge.slice(0, space), merge.slice(space + 1)] : null;
  }
  const ok =
    Array.isArray(merge) &&
    merge.length === 2 &&
    typeof merge[0] === 'string' &&
    typeof merge[1] === 'string';
  return ok ? [merge[0], merge[1]] : null;
}

/**
 * `left` or `right` when it is not a vocabulary piece, else null. (Their concatenation is not looked up: that
 * doubles the cost of loading, and a merge into a missing piece fails at encoding, naming the piece.)
 */
export function missingPiece(vocab: Record<string, number>, left: string, right: string): string | null {
  if (!Object.hasOwn(vocab, left)) return left;
  return Object.hasOwn(vocab, right) ? null : right;
}

function checkAddedTokens(value: unknown, vocab: Record<string, number>, source: string): AddedTokenJson[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) fail(source, 'added_tokens', value, 'an array');
  const byContent = new Map<string, number>();
  const byId = new Map<number, string>();
  return value.map((entry: unknown, i: number) => {
    const where = `added_tokens[${i}]`;
    const t = object(entry, source, where);
    if (!Number.isInteger(t.id) || (t.id as number) < 0)
      fail(source, `${where}.id`, t.id, 'a non-negative integer');
    if (typeof t.content !== 'string' || t.content === '')
      fail(source, `${where}.content`, t.content, 'a non-empty string');
    const id = t.id as number;
    const content = t.content;
    const modelId = Object.hasOwn(vocab, content) ? vocab[content] : undefined;
    if (modelId !== undefined && modelId !== id)
      throw new FormatError(
        source,
        where,
        `${JSON.stringify(content)} has id ${id} but model.vocab id ${modelId}`,
      );
    if (byContent.has(content))
      throw new FormatError(source, where, `${JSON.stringify(content)} is listed twice`);
    const other = byId.get(id);
    if (other !== undefined)
      throw new FormatError(source, where, `id ${id} is also the id of ${JSON.stringify(other)}`);
    byContent.set(content, id);
    byId.set(id, content);
    const special = t.special === true;
    return {
      id,
      content,
      single_word: t.single_word === true,
      lstrip: t.lstrip === true,
      rstrip: t.rstrip === true,
      normalized: typeof t.normalized === 'boolean' ? t.normalized : !special,
      special,
    };
  });
}

/**
 * The special token a post-processor puts before a single sequence (`TemplateProcessing` `single`, also inside a
 * `Sequence` of processors), or null: the token HF's `encode(text, add_special_tokens=True)` starts with.
 */
export function leadingSpecialToken(postProcessor: unknown): string | null {
  const p = postProcessor as Json | null;
  if (p?.type === 'Sequence' && Array.isArray(p.processors)) {
    for (const inner of p.processors) {
      const found = leadingSpecialToken(inner);
      if (found !== null) return found;
    }
    return null;
  }
  if (p?.type !== 'TemplateProcessing' || !Array.isArray(p.single)) return null;
  const first = p.single[0] as { SpecialToken?: { id?: unknown } } | undefined;
  return typeof first?.SpecialToken?.id === 'string' ? first.SpecialToken.id : null;
}

function object(value: unknown, source: string, where: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    fail(source, where, value, 'an object');
  return value as Json;
}

function fail(source: string, where: string, value: unknown, expected: string): never {
  const shown = JSON.stringify(value)?.slice(0, 80);
  throw new FormatError(source, where, `got ${shown}; expected ${expected}`);
}
