// A Hugging Face tokenizer (tokenizer.json, with its tokenizer_config.json) behind our Tokenizer interface. The text
// pipeline (added-token splitting, normalizer, pre-tokenizer, BPE, decoder) is @huggingface/tokenizers, the library
// transformers.js uses; this class adds what the interface needs on top: BOS/EOS by name, special tokens added after
// loading (the AlignCoT step tokens), range-checked decoding, streaming, and the files to write back.

import { Tokenizer as HfPipelineClass } from '@huggingface/tokenizers';
import { check, FormatError } from '../util/errors.js';
import type { EncodeOptions, StreamDecoder, Tokenizer } from './tokenizer.js';
import { NO_TOKENIZER_CONFIG, type TokenizerConfig } from './tokenizer-config.js';
import {
  type AddedTokenJson,
  addedTokenJson,
  checkTokenizerJson,
  leadingSpecialToken,
  type TokenizerJson,
} from './tokenizer-json.js';
import { windowStreamDecoder } from './window-stream.js';

/**
 * The part of @huggingface/tokenizers' Tokenizer used here. Its bundled .d.ts files import each other without file
 * extensions, which NodeNext resolution cannot follow, so the import arrives untyped and is typed here.
 */
interface HfPipeline {
  encode(text: string, options: { add_special_tokens: boolean }): { ids: number[]; tokens: string[] };
  decode(
    ids: number[],
    options: { skip_special_tokens: boolean; clean_up_tokenization_spaces: boolean },
  ): string;
  id_to_token(id: number): string | undefined;
}
const HfPipeline = HfPipelineClass as unknown as new (json: object, config: object) => HfPipeline;

/** Options of `new HfTokenizer`. */
export interface HfTokenizerOptions {
  /** The model's tokenizer_config.json, read by `readTokenizerConfig`. Default: none. */
  config?: TokenizerConfig;
  /** A chat template that replaces the config's (a `chat_template.jinja` file). Default: the config's. */
  chatTemplate?: string | null;
  /** Names the file of `chatTemplate` in errors. Default `'chat_template.jinja'`. */
  chatTemplateFile?: string;
  /** BOS piece, overriding the config's `bos_token`. */
  bosToken?: string;
  /** EOS piece, overriding the config's `eos_token`. */
  eosToken?: string;
  /** Names the tokenizer.json in errors. Default `'tokenizer.json'`. */
  source?: string;
}

/** EOS pieces tried, in order, when neither the options nor a config name one. */
const EOS_NAMES = ['</s>', '<|endoftext|>', '<|end_of_text|>', '<eos>', '<|im_end|>'];

/**
 * A tokenizer.json tokenizer. Ids are those of the file; special tokens added later get the ids after the highest
 * one (`vocabSize`, `vocabSize + 1`, …), are matched whole in the raw text before anything else (never split, also
 * inside words), decode as themselves, and are written into `toTokenizerJson()`'s `added_tokens`. A model may have
 * more embedding rows than the tokenizer has ids (Qwen2.5 pads 151,665 ids to 151,936 rows): the added tokens then
 * take ids inside those padding rows, as transformers' `add_special_tokens` gives them, and it is for the model to
 * train those rows (`baseVocabSize` is where the added ids start).
 *
 * BOS and EOS: `bosId` is the token HF's `encode(text, add_special_tokens=True)` starts with (the post-processor's
 * leading special token, or `bos_token` when the config sets `add_bos_token`), -1 when it adds none (Qwen2,
 * SmolLM2); `eosId` is the config's `eos_token` (else a well-known name), -1 when there is none. `bosToken` and
 * `eosToken` are the config's names, which a chat template uses. Decoding renders BOS and EOS as nothing.
 */
export class HfTokenizer implements Tokenizer {
  readonly bosId: number;
  readonly eosId: number;
  /** tokenizer_config.json's `bos_token` (what a chat template calls `bos_token`), or null. */
  readonly bosToken: string | null;
  /** tokenizer_config.json's `eos_token`, or null. */
  readonly eosToken: string | null;
  /** tokenizer_config.json's `pad_token`, or null. */
  readonly padToken: string | null;
  /** The jinja chat template (chat_template.jinja, else tokenizer_config.json's), or null. chat-format.ts renders it. */
  readonly chatTemplate: string | null;
  /** Where `chatTemplate` came from: chat_template.jinja (field ''), or tokenizer_config.json's `chat_template`. */
  readonly chatTemplateSource: { readonly file: string; readonly field: string };
  /** Ids in the file (the highest id + 1), before any `addSpecialTokens`. */
  readonly baseVocabSize: number;
  /** The file(s) it was read from, as named in errors. */
  readonly source: string;
  private readonly json: TokenizerJson;
  private readonly config: TokenizerConfig;
  /** Every added token, the file's and ours, by content. */
  private readonly added = new Map<string, AddedTokenJson>();
  private readonly special = new Map<string, number>();
  private idCount: number;
  /**
   * The HF pipeline, built at first use and again after tokens are added (the library takes added tokens at
   * construction only, and building it is the slow part of loading: the BPE merge table).
   */
  private pipeline: HfPipeline | undefined;

  /** Checks and builds the tokenizer; a malformed file is a FormatError naming `options.source` and the field. */
  constructor(json: unknown, options: HfTokenizerOptions = {}) {
    this.source = options.source ?? 'tokenizer.json';
    this.json = checkTokenizerJson(json, this.source);
    this.config = options.config ?? NO_TOKENIZER_CONFIG;
    let maxId = -1;
    for (const piece in this.json.model.vocab) maxId = Math.max(maxId, this.json.model.vocab[piece]);
    for (const token of this.json.added_tokens) {
      this.added.set(token.content, token);
      if (token.special) this.special.set(token.content, token.id);
      maxId = Math.max(maxId, token.id);
    }
    this.idCount = this.baseVocabSize = maxId + 1;
    this.bosToken = options.bosToken ?? this.config.bosToken;
    this.eosToken = options.eosToken ?? this.config.eosToken;
    this.padToken = this.config.padToken;
    this.chatTemplate = options.chatTemplate ?? this.config.chatTemplate;
    this.chatTemplateSource =
      options.chatTemplate != null
        ? { file: options.chatTemplateFile ?? 'chat_template.jinja', field: '' }
        : { file: this.config.source, field: 'chat_template' };
    const leading = leadingSpecialToken(this.json.post_processor);
    if (leading !== null) this.bosId = this.requirePiece(leading, this.source, 'post_processor');
    else if (this.config.addBosToken && this.bosToken !== null)
      this.bosId = this.namedId(this.bosToken, options.bosToken !== undefined, 'bos_token');
    else this.bosId = -1;
    if (this.eosToken !== null)
      this.eosId = this.namedId(this.eosToken, options.eosToken !== undefined, 'eos_token');
    else this.eosId = EOS_NAMES.map((name) => this.pieceToId(name)).find((id) => id !== undefined) ?? -1;
    // The normalizer, pre-tokenizer, post-processor and decoder are built now, around an empty vocabulary, so that an
    // unsupported component or pattern fails at load time; the full pipeline waits for first use.
    this.build({ ...this.json, added_tokens: [], model: { ...this.json.model, vocab: {}, merges: [] } });
  }

  get vocabSize(): number {
    return this.idCount;
  }

  get specialTokens(): ReadonlyMap<string, number> {
    return this.special;
  }

  // -------------------------------------------------------------------------------------------------
  // encode / decode

  /** Text → ids (the HF pipeline, without its post-processor). Options: `bos` (default true), `eos` (default false). */
  encode(text: string, options: EncodeOptions = {}): number[] {
    const { bos = true, eos = false } = options;
    const { ids, tokens } = this.lib.encode(text, { add_special_tokens: false });
    ids.forEach((id, i) => {
      if (id === undefined)
        throw new Error(
          `${this.source}: cannot encode ${JSON.stringify(tokens[i])}: it is not in the vocabulary, and the model has neither byte_fallback nor an unk_token`,
        );
    });
    if (bos && this.bosId >= 0) ids.unshift(this.bosId);
    if (eos && this.eosId >= 0) ids.push(this.eosId);
    return ids;
  }

  /** Ids → text; BOS and EOS render as nothing, other special tokens as themselves. */
  decode(ids: readonly number[]): string {
    const kept: number[] = [];
    for (const id of ids) {
      this.checkId(id);
      if (id !== this.bosId && id !== this.eosId) kept.push(id);
    }
    if (kept.length === 0) return ''; // the library refuses an empty list
    return this.lib.decode(kept, {
      skip_special_tokens: false,
      clean_up_tokenization_spaces: this.config.cleanUp,
    });
  }

  /** A streaming decoder; `prevId` is the id before the first one pushed (e.g. the prompt's last). */
  streamDecoder(prevId = -1): StreamDecoder {
    return windowStreamDecoder((ids) => this.decode(ids), prevId >= 0 ? [prevId] : []);
  }

  // -------------------------------------------------------------------------------------------------
  // pieces and special tokens

  /** The piece of `id` as stored: byte-level (`Ġthe`), SentencePiece (`▁the`, `<0x0A>`) or an added token. */
  idToPiece(id: number): string {
    this.checkId(id);
    const piece = this.lib.id_to_token(id);
    if (piece === undefined) throw new RangeError(`token id ${id} is not used by ${this.source}`);
    return piece;
  }

  pieceToId(piece: string): number | undefined {
    const vocab = this.json.model.vocab;
    return this.added.get(piece)?.id ?? (Object.hasOwn(vocab, piece) ? vocab[piece] : undefined);
  }

  /**
   * Adds special tokens: atomic, never split, decoded as themselves. A token already added keeps its id (and
   * becomes special); a vocabulary piece becomes atomic with its id; any other gets the next id after the highest.
   */
  addSpecialTokens(tokens: readonly string[]): number[] {
    return tokens.map((token) => {
      check(typeof token === 'string' && token.length > 0, 'specialTokens', token, 'a non-empty string');
      const known = this.added.get(token);
      if (known?.special) return known.id;
      const id = known?.id ?? this.pieceToId(token) ?? this.idCount;
      this.added.set(token, known ? { ...known, special: true } : addedTokenJson(id, token, true));
      this.special.set(token, id);
      this.idCount = Math.max(this.idCount, id + 1);
      this.pipeline = undefined;
      return id;
    });
  }

  // -------------------------------------------------------------------------------------------------
  // the files to write back

  /** The tokenizer.json object: the file's, with every added token (the file's and ours) in `added_tokens`. */
  toTokenizerJson(): TokenizerJson {
    const addedTokens = [...this.added.values()].sort((a, b) => a.id - b.id);
    return { ...this.json, added_tokens: addedTokens.map((t) => ({ ...t })) };
  }

  /**
   * The tokenizer_config.json object: the loaded one (chat template included) with `added_tokens_decoder` listing
   * every added token and `additional_special_tokens` the special ones added since loading, so transformers'
   * `AutoTokenizer.from_pretrained` sees the step tokens as special.
   */
  toTokenizerConfig(): Record<string, unknown> {
    const { added_tokens_decoder: _, ...rest } = this.config.raw;
    const fromFile = new Set(this.json.added_tokens.map((t) => t.content));
    const listed = Array.isArray(rest.additional_special_tokens) ? rest.additional_special_tokens : [];
    const ours = [...this.special.keys()].filter((t) => !fromFile.has(t) && !listed.includes(t));
    const addedTokensDecoder = Object.fromEntries(
      [...this.added.values()].sort((a, b) => a.id - b.id).map(({ id, ...token }) => [String(id), token]),
    );
    return {
      tokenizer_class: 'PreTrainedTokenizerFast',
      ...rest,
      ...(this.bosToken !== null && { bos_token: this.bosToken }),
      ...(this.eosToken !== null && { eos_token: this.eosToken }),
      ...(this.chatTemplate !== null && { chat_template: this.chatTemplate }),
      clean_up_tokenization_spaces: this.config.cleanUp,
      added_tokens_decoder: addedTokensDecoder,
      ...((listed.length > 0 || ours.length > 0) && { additional_special_tokens: [...listed, ...ours] }),
    };
  }

  // -------------------------------------------------------------------------------------------------
  // helpers

  private get lib(): HfPipeline {
    this.pipeline ??= this.build(this.toTokenizerJson());
    return this.pipeline;
  }

  private build(json: TokenizerJson): HfPipeline {
    try {
      return new HfPipeline(json, this.config.raw);
    } catch (e) {
      throw new FormatError(
        this.source,
        '',
        `@huggingface/tokenizers cannot build it: ${(e as Error).message}`,
      );
    }
  }

  /** The id of a BOS/EOS piece named by the options (`bosToken`) or the config (`bos_token`). */
  private namedId(piece: string, byOption: boolean, configField: 'bos_token' | 'eos_token'): number {
    if (!byOption) return this.requirePiece(piece, this.config.source, configField);
    return this.requirePiece(piece, 'options', configField === 'bos_token' ? 'bosToken' : 'eosToken');
  }

  /** The id of `piece`, named in `source` at `field`; a FormatError when the tokenizer has no such piece. */
  private requirePiece(piece: string, source: string, field: string): number {
    const id = this.pieceToId(piece);
    if (id === undefined)
      throw new FormatError(
        source,
        field,
        `${JSON.stringify(piece)} is neither a vocabulary piece nor an added token of ${this.source}`,
      );
    return id;
  }

  private checkId(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.idCount)
      throw new RangeError(`token id ${id} is out of range; expected an integer in [0, ${this.idCount})`);
  }
}
