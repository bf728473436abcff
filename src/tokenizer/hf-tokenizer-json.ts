// Reader for Hugging Face tokenizer.json files with a BPE model: byte-level (GPT-2, RoBERTa, our trainBpe) and
// SentencePiece-style with byte fallback (HF's Llama/Mistral conversions, legacy normalizer or Metaspace form).
// Format: huggingface/tokenizers `tokenizer/serialization.rs` and the component serialisers (read, not copied).

import { FormatError } from '../util/errors.js';
import type { BpeModelSpec } from './bpe-model.js';
import type { DecoderSpec, NormalizerStep, PreTokenizerSpec } from './bpe-pipeline.js';
import { type AddedTokenSpec, BpeTokenizer, type BpeTokenizerSpec } from './bpe-tokenizer.js';

/** Options for reading a tokenizer.json. */
export interface TokenizerJsonOptions {
  /** BOS piece. Default: the special token the post_processor template puts first, else a well-known name. */
  bosToken?: string;
  /** EOS piece. Default: the special token the template puts last, else a well-known name. */
  eosToken?: string;
  /** Names the file in errors. Default `'tokenizer.json'`. */
  source?: string;
}

/** Pieces taken as BOS / EOS when neither the options nor the template say, tried in order. */
const BOS_NAMES = ['<s>', '<|begin_of_text|>', '<|startoftext|>', '<bos>', '<|endoftext|>'];
const EOS_NAMES = ['</s>', '<|end_of_text|>', '<eos>', '<|endoftext|>'];
const UNICODE_FORMS = new Set(['NFC', 'NFD', 'NFKC', 'NFKD']);

type Json = Record<string, unknown>;

/**
 * Parses a tokenizer.json object (already JSON-parsed) into a BpeTokenizer. Unsupported models, normalizers,
 * pre-tokenizers or decoders are FormatErrors naming the field, the value and what is supported. `truncation`,
 * `padding` and the post-processor (other than for finding BOS/EOS) are ignored: `encode` options decide.
 */
export function tokenizerFromJson(json: unknown, options: TokenizerJsonOptions = {}): BpeTokenizer {
  const source = options.source ?? 'tokenizer.json';
  const r = new Reader(source);
  const root = r.object(json, '(root)');
  if (root.version !== undefined && root.version !== '1.0') r.fail('version', root.version, '"1.0"');
  const model = r.model(root.model);
  const addedTokens = r.addedTokens(root.added_tokens);
  const pieces = new Set([...model.vocab, ...addedTokens.map((t) => t.content)]);
  const [templateBos, templateEos] = r.templateEnds(root.post_processor);
  const spec: BpeTokenizerSpec = {
    model,
    addedTokens,
    bosToken: options.bosToken ?? templateBos ?? r.known(pieces, BOS_NAMES, 'BOS', 'bosToken'),
    eosToken: options.eosToken ?? templateEos ?? r.known(pieces, EOS_NAMES, 'EOS', 'eosToken'),
    normalizer: r.normalizer(root.normalizer, 'normalizer'),
    preTokenizer: r.preTokenizer(root.pre_tokenizer, 'pre_tokenizer'),
    decoder: r.decoder(root.decoder),
  };
  return new BpeTokenizer(spec, source);
}

/** Field-by-field reading with errors that name the file, the field and what was expected. */
class Reader {
  constructor(private readonly source: string) {}

  fail(where: string, value: unknown, expected: string): never {
    throw new FormatError(this.source, where, `got ${JSON.stringify(value)}; expected ${expected}`);
  }

  object(value: unknown, where: string): Json {
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      this.fail(where, value, 'an object');
    return value as Json;
  }

  string(value: unknown, where: string): string {
    return typeof value === 'string' ? value : this.fail(where, value, 'a string');
  }

  flag(value: unknown, where: string, fallback: boolean): boolean {
    if (value === undefined || value === null) return fallback;
    return typeof value === 'boolean' ? value : this.fail(where, value, 'true or false');
  }

  /** `model`: BPE only, with a dense vocabulary and merges in either serialised form. */
  model(value: unknown): BpeModelSpec {
    const m = this.object(value, 'model');
    if (m.type !== 'BPE')
      this.fail('model.type', m.type, '"BPE" (Unigram, WordPiece and WordLevel are not supported)');
    if (m.dropout !== undefined && m.dropout !== null && m.dropout !== 0) {
      this.fail('model.dropout', m.dropout, 'null or 0 (BPE-dropout is not supported)');
    }
    for (const field of ['continuing_subword_prefix', 'end_of_word_suffix']) {
      const v = m[field];
      if (v !== undefined && v !== null && v !== '')
        this.fail(`model.${field}`, v, 'null or "" (not supported)');
    }
    const unk =
      m.unk_token === undefined || m.unk_token === null ? null : this.string(m.unk_token, 'model.unk_token');
    return {
      vocab: this.vocab(m.vocab),
      merges: this.merges(m.merges),
      unkToken: unk,
      fuseUnk: this.flag(m.fuse_unk, 'model.fuse_unk', false),
      byteFallback: this.flag(m.byte_fallback, 'model.byte_fallback', false),
      ignoreMerges: this.flag(m.ignore_merges, 'model.ignore_merges', false),
    };
  }

  private vocab(value: unknown): string[] {
    const entries = Object.entries(this.object(value, 'model.vocab'));
    const pieces: string[] = new Array(entries.length);
    for (const [piece, id] of entries) {
      const where = `model.vocab[${JSON.stringify(piece)}]`;
      if (!Number.isInteger(id) || (id as number) < 0 || (id as number) >= entries.length) {
        this.fail(where, id, `an integer id in [0, ${entries.length}) (ids must be dense)`);
      }
      if (pieces[id as number] !== undefined) {
        this.fail(where, id, `an id not already used by ${JSON.stringify(pieces[id as number])}`);
      }
      pieces[id as number] = piece;
    }
    return pieces;
  }

  private merges(value: unknown): [string, string][] {
    if (value === undefined) return [];
    if (!Array.isArray(value)) this.fail('model.merges', value, 'an array');
    return value.map((merge, i): [string, string] => {
      const parts = typeof merge === 'string' ? merge.split(' ') : merge;
      const ok = Array.isArray(parts) && parts.length === 2 && parts.every((p) => typeof p === 'string');
      return ok
        ? [parts[0], parts[1]]
        : this.fail(`model.merges[${i}]`, merge, '"left right" or ["left", "right"]');
    });
  }

  /** `added_tokens`: plain atomic matching only (no lstrip/rstrip/single_word). */
  addedTokens(value: unknown): AddedTokenSpec[] {
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) this.fail('added_tokens', value, 'an array');
    return value.map((entry, i) => {
      const t = this.object(entry, `added_tokens[${i}]`);
      for (const field of ['single_word', 'lstrip', 'rstrip']) {
        if (t[field] === true) this.fail(`added_tokens[${i}].${field}`, true, 'false (not supported)');
      }
      if (!Number.isInteger(t.id) || (t.id as number) < 0) {
        this.fail(`added_tokens[${i}].id`, t.id, 'a non-negative integer');
      }
      const content = this.string(t.content, `added_tokens[${i}].content`);
      return {
        id: t.id as number,
        content,
        special: this.flag(t.special, `added_tokens[${i}].special`, false),
      };
    });
  }

  /** `normalizer`: null, Unicode forms, Lowercase, Prepend, Replace with a string pattern, or a Sequence of them. */
  normalizer(value: unknown, where: string): NormalizerStep[] {
    if (value === null || value === undefined) return [];
    const n = this.object(value, where);
    if (n.type === 'Sequence') {
      if (!Array.isArray(n.normalizers)) this.fail(`${where}.normalizers`, n.normalizers, 'an array');
      return n.normalizers.flatMap((step, i) => this.normalizer(step, `${where}.normalizers[${i}]`));
    }
    if (typeof n.type === 'string' && (UNICODE_FORMS.has(n.type) || n.type === 'Lowercase')) {
      return [{ type: n.type } as NormalizerStep];
    }
    if (n.type === 'Prepend')
      return [{ type: 'Prepend', prepend: this.string(n.prepend, `${where}.prepend`) }];
    if (n.type === 'Replace') return [{ type: 'Replace', ...this.replace(n, where) }];
    return this.fail(
      `${where}.type`,
      n.type,
      'null, Sequence, NFC, NFD, NFKC, NFKD, Lowercase, Prepend or Replace',
    );
  }

  private replace(n: Json, where: string): { pattern: string; content: string } {
    const pattern = this.object(n.pattern, `${where}.pattern`);
    if (typeof pattern.String !== 'string') {
      this.fail(`${where}.pattern`, n.pattern, '{ "String": … } (Regex patterns are not supported)');
    }
    return { pattern: pattern.String, content: this.string(n.content, `${where}.content`) };
  }

  /** `pre_tokenizer`: null, ByteLevel, Metaspace, or a Sequence holding one of them. */
  preTokenizer(value: unknown, where: string): PreTokenizerSpec | null {
    if (value === null || value === undefined) return null;
    const p = this.object(value, where);
    if (p.type === 'Sequence' && Array.isArray(p.pretokenizers) && p.pretokenizers.length === 1) {
      return this.preTokenizer(p.pretokenizers[0], `${where}.pretokenizers[0]`);
    }
    if (p.type === 'ByteLevel') {
      return {
        type: 'ByteLevel',
        addPrefixSpace: this.flag(p.add_prefix_space, `${where}.add_prefix_space`, true),
        useRegex: this.flag(p.use_regex, `${where}.use_regex`, true),
      };
    }
    if (p.type === 'Metaspace') {
      const [replacement, prependScheme] = this.metaspace(p, where);
      return {
        type: 'Metaspace',
        replacement,
        prependScheme,
        split: this.flag(p.split, `${where}.split`, true),
      };
    }
    return this.fail(
      `${where}.type`,
      p.type,
      'null, ByteLevel, Metaspace, or a Sequence of exactly one of them',
    );
  }

  /** Metaspace's replacement and prepend scheme (the legacy `add_prefix_space: false` means "never"). */
  private metaspace(m: Json, where: string): [string, 'always' | 'first' | 'never'] {
    const replacement = this.string(m.replacement, `${where}.replacement`);
    const scheme = m.prepend_scheme ?? (m.add_prefix_space === false ? 'never' : 'always');
    if (scheme !== 'always' && scheme !== 'first' && scheme !== 'never') {
      this.fail(`${where}.prepend_scheme`, scheme, '"always", "first" or "never"');
    }
    return [replacement, scheme];
  }

  /** `decoder`: ByteLevel, Metaspace, or a Sequence of Replace(→ " ") / ByteFallback / Fuse / Strip(" ", n, 0). */
  decoder(value: unknown): DecoderSpec {
    const supported = 'ByteLevel, Metaspace, or a Sequence of Replace, ByteFallback, Fuse, Strip';
    if (value === null || value === undefined) this.fail('decoder', value, supported);
    const d = this.object(value, 'decoder');
    const steps: unknown[] = d.type === 'Sequence' && Array.isArray(d.decoders) ? d.decoders : [d];
    if (steps.length === 1 && (steps[0] as Json | null)?.type === 'ByteLevel') return { type: 'ByteLevel' };
    const out = {
      type: 'Pieces' as const,
      replacement: null as string | null,
      byteFallback: false,
      stripLeadingSpaces: 0,
    };
    steps.forEach((step, i) => {
      const where = d.type === 'Sequence' ? `decoder.decoders[${i}]` : 'decoder';
      const s = this.object(step, where);
      if (s.type === 'ByteFallback') out.byteFallback = true;
      else if (s.type === 'Fuse') return;
      else if (s.type === 'Metaspace') {
        const [replacement, scheme] = this.metaspace(s, where);
        Object.assign(out, { replacement, stripLeadingSpaces: scheme === 'never' ? 0 : 1 });
      } else if (s.type === 'Replace') {
        const { pattern, content } = this.replace(s, where);
        if (content !== ' ') this.fail(`${where}.content`, content, '" " (the replacement becomes a space)');
        out.replacement = pattern;
      } else if (s.type === 'Strip') {
        if (s.content !== ' ' || s.stop !== 0 || !Number.isInteger(s.start)) {
          this.fail(where, s, '{ "type": "Strip", "content": " ", "start": n, "stop": 0 }');
        }
        out.stripLeadingSpaces = s.start as number;
      } else this.fail(`${where}.type`, s.type, supported);
    });
    return out;
  }

  /** The special tokens a TemplateProcessing post-processor puts before and after `$A`. */
  templateEnds(value: unknown): [string | undefined, string | undefined] {
    const single = (value as Json | null)?.type === 'TemplateProcessing' ? (value as Json).single : undefined;
    if (!Array.isArray(single)) return [undefined, undefined];
    const ids = single.map((item) => (item as { SpecialToken?: { id?: unknown } })?.SpecialToken?.id);
    const seq = ids.indexOf(undefined);
    const first = seq > 0 ? ids[0] : undefined;
    const last = seq >= 0 && seq < ids.length - 1 ? ids[ids.length - 1] : undefined;
    return [typeof first === 'string' ? first : undefined, typeof last === 'string' ? last : undefined];
  }

  /** The first of `names` that is a piece, else an error telling which option to pass. */
  known(pieces: ReadonlySet<string>, names: readonly string[], what: string, option: string): string {
    const found = names.find((n) => pieces.has(n));
    if (found !== undefined) return found;
    throw new FormatError(
      this.source,
      'post_processor',
      `cannot tell the ${what} token: no template names one and none of ${JSON.stringify(names)} is a piece; pass { ${option} }`,
    );
  }
}
