// The one Tokenizer interface every format implements (llama2.c tokenizer.bin, byte-level BPE, HF tokenizer.json).

export interface EncodeOptions {
  /** Prepend the BOS id. Default true. */
  bos?: boolean;
  /** Append the EOS id. Default false. */
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
  /** Number of ids, including added special tokens. */
  readonly vocabSize: number;
  readonly bosId: number;
  readonly eosId: number;
  /** Text → ids. Added special tokens in the text are matched first and never split. */
  encode(text: string, options?: EncodeOptions): number[];
  /** Ids → text (llama2.c semantics: a leading space after BOS is dropped; `<0xNN>` becomes the raw byte). */
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
}
