// A tiny Tokenizer for the AlignCoT tests: word-level (a piece is optional leading whitespace + a run of
// non-space characters, or a run of whitespace) or char-level. Special tokens are cut out first, longest
// match first, and are single ids. The vocabulary GROWS on encode: an unseen piece gets the next id.
// That is a test convenience only, so examples read with small hand-checkable ids.
import type { EncodeOptions, StreamDecoder, Tokenizer } from '../../../src/tokenizer/tokenizer.js';

export class ToyTokenizer implements Tokenizer {
  readonly bosId = 1;
  readonly eosId = 2;
  /** The three ids it starts with (it grows on encode, so no later count is "the file's"). */
  readonly baseVocabSize = 3;
  private readonly pieces: string[] = ['<unk>', '<s>', '</s>'];
  private readonly ids = new Map<string, number>(this.pieces.map((p, i) => [p, i]));
  private readonly special = new Map<string, number>();

  constructor(readonly mode: 'word' | 'char' = 'word') {}

  get vocabSize(): number {
    return this.pieces.length;
  }

  get specialTokens(): ReadonlyMap<string, number> {
    return this.special;
  }

  encode(text: string, { bos = true, eos = false }: EncodeOptions = {}): number[] {
    const out = bos ? [this.bosId] : [];
    for (const part of this.splitSpecial(text)) {
      if (this.special.has(part)) out.push(this.special.get(part)!);
      else for (const piece of this.split(part)) out.push(this.idOf(piece));
    }
    if (eos) out.push(this.eosId);
    return out;
  }

  decode(ids: readonly number[]): string {
    return ids.map((id) => (id === this.bosId || id === this.eosId ? '' : this.idToPiece(id))).join('');
  }

  streamDecoder(): StreamDecoder {
    return { push: (id) => this.decode([id]), flush: () => '' };
  }

  idToPiece(id: number): string {
    if (!(id >= 0 && id < this.pieces.length)) throw new RangeError(`toy tokenizer: id ${id} out of range`);
    return this.pieces[id];
  }

  pieceToId(piece: string): number | undefined {
    return this.ids.get(piece);
  }

  addSpecialTokens(tokens: readonly string[]): number[] {
    return tokens.map((t) => {
      const id = this.special.get(t) ?? this.idOf(t);
      this.special.set(t, id);
      return id;
    });
  }

  private idOf(piece: string): number {
    let id = this.ids.get(piece);
    if (id === undefined) {
      id = this.pieces.length;
      this.pieces.push(piece);
      this.ids.set(piece, id);
    }
    return id;
  }

  private splitSpecial(text: string): string[] {
    if (this.special.size === 0) return [text];
    const sorted = [...this.special.keys()].sort((a, b) => b.length - a.length);
    const re = new RegExp(`(${sorted.map((s) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|')})`);
    return text.split(re).filter((p) => p !== '');
  }

  private split(text: string): string[] {
    return this.mode === 'char' ? Array.from(text) : (text.match(/\s*\S+|\s+/g) ?? []);
  }
}
