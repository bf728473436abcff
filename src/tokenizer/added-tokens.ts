// Added (special) tokens: atomic strings matched in the text before any subword encoding,
// like the added-tokens trie of tokenizers.js / HF tokenizers, longest match first.

/** The special tokens added to a tokenizer and the splitting of text around them. */
export class AddedTokens {
  private readonly ids = new Map<string, number>();
  private pattern: RegExp | undefined;

  /** Every added token and its id, in insertion order. */
  get map(): ReadonlyMap<string, number> {
    return this.ids;
  }

  /** The id of an added token, or undefined. */
  get(piece: string): number | undefined {
    return this.ids.get(piece);
  }

  /** Registers `piece` with `id`. The caller chooses the id (and checks `piece` is new). */
  set(piece: string, id: number): void {
    this.ids.set(piece, id);
    this.pattern = undefined;
  }

  /**
   * Splits `text` around added tokens: even indices are plain text (possibly empty), odd indices are
   * added tokens. At each position the longest added token wins; matching runs left to right.
   */
  split(text: string): string[] {
    if (this.ids.size === 0) return [text];
    this.pattern ??= alternation([...this.ids.keys()]);
    return text.split(this.pattern);
  }
}

/** A capturing regex matching any of `pieces`, longest first (JS alternation takes the first that matches). */
function alternation(pieces: string[]): RegExp {
  const sorted = [...pieces].sort((a, b) => b.length - a.length);
  const escaped = sorted.map((p) => p.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'));
  return new RegExp(`(${escaped.join('|')})`);
}
