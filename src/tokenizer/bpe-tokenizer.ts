// A BPE tokenizer in HF tokenizers' pipeline shape (added tokens → normalizer → pre-tokenizer → BPE model →
// decoder): byte-level GPT-2/RoBERTa style (what `trainBpe` makes) and SentencePiece-style Llama tokenizer.json.

import { check, FormatError } from '../util/errors.js';
import { AddedTokens } from './added-tokens.js';
import { BpeModel, type BpeModelSpec } from './bpe-model.js';
import {
  type DecoderSpec,
  type NormalizerStep,
  normalize,
  type PreTokenizerSpec,
  pieceBytes,
  preTokenize,
} from './bpe-pipeline.js';
import type { EncodeOptions, StreamDecoder, Tokenizer } from './tokenizer.js';

/** An atomic token matched in the text before the model runs (tokenizer.json `added_tokens`). */
export interface AddedTokenSpec {
  content: string;
  id: number;
  /** Marked special in tokenizer.json (kept for writing it back; both kinds are matched the same way). */
  special: boolean;
}

/** Everything a BpeTokenizer is made of; JSON-serialisable. */
export interface BpeTokenizerSpec {
  model: BpeModelSpec;
  /** Added tokens: an id below the model size must be that piece's model id; larger ids continue densely. */
  addedTokens: readonly AddedTokenSpec[];
  /** The piece `encode` prepends with `bos: true`, and `decode` renders as nothing. */
  bosToken: string;
  /** The piece `encode` appends with `eos: true`, and `decode` renders as nothing. */
  eosToken: string;
  normalizer: readonly NormalizerStep[];
  preTokenizer: PreTokenizerSpec | null;
  decoder: DecoderSpec;
}

/** A BpeTokenizer as stored in a checkpoint. */
export interface BpeTokenizerJSON extends BpeTokenizerSpec {
  format: 'bpe';
}

const EMPTY = new Uint8Array(0);
const utf8 = new TextEncoder();

/**
 * A BPE tokenizer. `encode` cuts out added tokens (longest first), then normalizes, pre-tokenizes and merges
 * each stretch between them. `decode` renders BOS/EOS as nothing and other added tokens verbatim.
 */
export class BpeTokenizer implements Tokenizer {
  readonly bosId: number;
  readonly eosId: number;
  readonly model: BpeModel;
  private readonly added = new AddedTokens();
  private readonly addedList: AddedTokenSpec[] = [];
  /** Pieces of ids from model.size on (added tokens outside the model vocabulary). */
  private readonly extra: string[] = [];
  /** Decoded bytes of each model id. */
  private readonly bytes: Uint8Array[];
  /** UTF-8 of each added token, by id (rendered verbatim, overriding the model's decoding). */
  private readonly addedBytes = new Map<number, Uint8Array>();

  /** Builds and checks a tokenizer; `source` names the file in errors. */
  constructor(
    private readonly base: Readonly<BpeTokenizerSpec>,
    source = 'BPE tokenizer',
  ) {
    this.model = new BpeModel(base.model, source);
    this.bytes = base.model.vocab.map((piece) => pieceBytes(piece, base.decoder));
    const sorted = [...base.addedTokens].sort((a, b) => a.id - b.id);
    for (const token of sorted) this.addToken(token, source);
    this.bosId = this.requirePiece(base.bosToken, 'bos_token', source);
    this.eosId = this.requirePiece(base.eosToken, 'eos_token', source);
  }

  /** Restores a tokenizer saved by `toJSON`; `source` names the state in errors. */
  static fromJSON(json: unknown, source = 'tokenizer state'): BpeTokenizer {
    const s = json as Partial<BpeTokenizerJSON> | null;
    if (s?.format !== 'bpe') {
      throw new FormatError(source, 'format', `got ${JSON.stringify(s?.format)}; expected "bpe"`);
    }
    const { format: _, ...spec } = s as BpeTokenizerJSON;
    return new BpeTokenizer(spec, source);
  }

  get vocabSize(): number {
    return this.model.size + this.extra.length;
  }

  get specialTokens(): ReadonlyMap<string, number> {
    return this.added.map;
  }

  /** The full description, including special tokens added since construction. */
  get spec(): BpeTokenizerSpec {
    return { ...this.base, addedTokens: this.addedList.map((t) => ({ ...t })) };
  }

  toJSON(): BpeTokenizerJSON {
    return { format: 'bpe', ...this.spec };
  }

  // -------------------------------------------------------------------------------------------------
  // encode / decode

  /** Text → ids (see the class comment). Options: `bos` (default true), `eos` (default false). */
  encode(text: string, options: EncodeOptions = {}): number[] {
    const { bos = true, eos = false } = options;
    const out: number[] = bos ? [this.bosId] : [];
    const { normalizer, preTokenizer } = this.base;
    this.added.split(text).forEach((part, i) => {
      if (i % 2 === 1) {
        out.push(this.added.get(part)!);
        return;
      }
      for (const word of preTokenize(normalize(part, normalizer), preTokenizer, i === 0)) {
        for (const id of this.model.encodeWord(word)) out.push(id);
      }
    });
    if (eos) out.push(this.eosId);
    return out;
  }

  /** Ids → text; bytes are read as UTF-8 (invalid sequences become U+FFFD). */
  decode(ids: readonly number[]): string {
    const stream = this.streamDecoder();
    let text = '';
    for (const id of ids) text += stream.push(id);
    return text + stream.flush();
  }

  /**
   * A streaming decoder. With a `Pieces` decoder that strips leading spaces, the strip applies to the first
   * bytes emitted; pass `prevId` (the id before the first one pushed, other than BOS) to continue mid-text.
   */
  streamDecoder(prevId = -1): StreamDecoder {
    const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
    const d = this.base.decoder;
    let toStrip = d.type === 'Pieces' && (prevId < 0 || prevId === this.bosId) ? d.stripLeadingSpaces : 0;
    return {
      push: (id) => {
        let bytes = this.bytesOf(id);
        while (toStrip > 0 && bytes.length > 0) {
          if (bytes[0] === 0x20) {
            bytes = bytes.subarray(1);
            toStrip--;
          } else toStrip = 0;
        }
        return decoder.decode(bytes, { stream: true });
      },
      flush: () => decoder.decode(),
    };
  }

  private bytesOf(id: number): Uint8Array {
    this.checkId(id);
    if (id === this.bosId || id === this.eosId) return EMPTY;
    return this.addedBytes.get(id) ?? this.bytes[id];
  }

  // -------------------------------------------------------------------------------------------------
  // pieces and special tokens

  /** The piece of `id` as stored: byte-level (`Ġthe`), SentencePiece (`▁the`, `<0x0A>`) or an added token. */
  idToPiece(id: number): string {
    this.checkId(id);
    return id < this.model.size ? this.model.spec.vocab[id] : this.extra[id - this.model.size];
  }

  pieceToId(piece: string): number | undefined {
    return this.added.get(piece) ?? this.model.pieceToId(piece);
  }

  /**
   * Adds atomic special tokens; new ones get ids vocabSize, vocabSize+1, … in order. A token already added
   * keeps its id, and a token equal to a model piece becomes atomic with that piece's id.
   */
  addSpecialTokens(tokens: readonly string[]): number[] {
    return tokens.map((token) => {
      check(typeof token === 'string' && token.length > 0, 'specialTokens', token, 'a non-empty string');
      const known = this.added.get(token);
      if (known !== undefined) return known;
      const id = this.model.pieceToId(token) ?? this.vocabSize;
      this.addToken({ content: token, id, special: true }, 'addSpecialTokens');
      return id;
    });
  }

  private addToken(token: AddedTokenSpec, source: string): void {
    const where = `added_tokens id ${token.id}`;
    const { content, id } = token;
    if (typeof content !== 'string' || content === '') {
      throw new FormatError(source, where, `content ${JSON.stringify(content)}; expected a non-empty string`);
    }
    const modelId = this.model.pieceToId(content);
    if (modelId !== undefined && modelId !== id) {
      throw new FormatError(
        source,
        where,
        `${JSON.stringify(content)} is model piece ${modelId}; expected that id`,
      );
    }
    if (modelId === undefined && id !== this.vocabSize) {
      throw new FormatError(
        source,
        where,
        `${JSON.stringify(content)} is not a model piece, so its id must continue the ids densely; expected ${this.vocabSize}`,
      );
    }
    if (this.added.get(content) !== undefined) {
      throw new FormatError(source, where, `${JSON.stringify(content)} is listed twice`);
    }
    if (modelId === undefined) this.extra.push(content);
    this.added.set(content, id);
    this.addedBytes.set(id, utf8.encode(content));
    this.addedList.push({ ...token });
  }

  private requirePiece(piece: string, field: string, source: string): number {
    const id = this.pieceToId(piece);
    if (id === undefined) {
      throw new FormatError(
        source,
        field,
        `${JSON.stringify(piece)} is neither a model piece nor an added token`,
      );
    }
    return id;
  }

  private checkId(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      throw new RangeError(`token id ${id} is out of range; expected an integer in [0, ${this.vocabSize})`);
    }
  }
}
