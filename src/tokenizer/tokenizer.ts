// The one Tokenizer interface every format implements (llama2.c tokenizer.bin; Hugging Face tokenizers, including the
// byte-level BPE that `trainBpe` makes).

export interface EncodeOptions {
  /** Prepend the BOS id (nothing when the tokenizer has none, `bosId` -1). Default true. */
  bos?: boolean;
  /** Append the EOS id (nothing when `eosId` is -1). Default false. */
  eos?: boolean;
}

/** Turns ids back into text incrementally, holding back incomplete UTF-8 sequences between pushes. */
export interface StreamDecoder {
  /** Text completed by this id (may be empty while a multi-byte character is incomplete). */
  push(id: number): string;
  /** Whatever is still buffered (replacement characters for an incomplete sequence). */
  flush(): string;
}

export interface Tokenizer {
  /** Number of ids (the highest id + 1), including added special tokens. */
  readonly vocabSize: number;
  /**
   * Number of ids the tokenizer was loaded with, before any `addSpecialTokens`: the ids added since start here. A
   * model may have more embedding rows than this (padding, as Qwen2.5 has); the added ids then take those rows.
   */
  readonly baseVocabSize: number;
  /** The id a sequence starts with, or -1 when the tokenizer starts sequences with none (Qwen2, SmolLM2). */
  readonly bosId: number;
  /** The end-of-sequence id, or -1 when the tokenizer names none. */
  readonly eosId: number;
  /** Text → ids. Added special tokens in the text are matched first and never split. */
  encode(text: string, options?: EncodeOptions): number[];
  /**
   * Ids → text. BOS and EOS render as nothing, other special tokens as themselves; byte pieces (`<0xNN>`) become
   * their bytes; a SentencePiece-style tokenizer drops the leading space of the text (llama2.c: after BOS).
   */
  decode(ids: readonly number[]): string;
  /**
   * An incremental decoder for streaming generation. `prevId` is the id before the first pushed one (e.g. the
   * prompt's last), so a format that drops a leading space after BOS (llama2.c) does so mid-stream too.
   */
  streamDecoder(prevId?: number): StreamDecoder;
  /** The string of one id, as stored (e.g. `▁the`, `<0x0A>`, `<|analysis|>`). */
  idToPiece(id: number): string;
  /** The id of an exact piece, or undefined. */
  pieceToId(piece: string): number | undefined;
  /**
   * Adds atomic special tokens (appended after the existing ids, in order; existing ones keep their id).
   * Returns their ids. `encode` never splits them; `decode` renders them verbatim.
   */
  addSpecialTokens(tokens: readonly string[]): number[];
  /** Added special tokens and their ids. */
  readonly specialTokens: ReadonlyMap<string, number>;
  /**
   * The model's jinja chat template (tokenizer_config.json `chat_template` or chat_template.jinja); absent or null
   * when it has none, and the default template applies (chat-format.ts).
   */
  readonly chatTemplate?: string | null;
  /** Where `chatTemplate` came from, named in errors: the file and its field ('' for a whole file). */
  readonly chatTemplateSource?: { readonly file: string; readonly field: string };
  /** The BOS piece a chat template calls `bos_token`, or null. */
  readonly bosToken?: string | null;
  /** The EOS piece a chat template calls `eos_token`, or null. */
  readonly eosToken?: string | null;
}
