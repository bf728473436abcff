// The host decoder's forward pass (llama2.c run.c `forward`) on the WebAssembly kernels, for several rows at once:
// a row is one token of one sequence at that sequence's next position. Rows of one sequence are its prompt (prefill);
// rows of different sequences are a batch. Every projection is one `matmul` over all rows, so its weights are read
// from memory once per step whatever the number of rows (a decode step of a large model is bound by that read);
// RoPE and attention go row by row, each against its own sequence's KV cache.
import type { HostModel, WeightSet } from './weights.js';

/** First KV-cache capacity of a sequence (positions); it doubles as needed, up to the model's context. */
const FIRST_CAPACITY = 256;

/** One sequence's KV cache in the host memory: per layer (capacity, kvDim) keys, then the same for values. */
export class HostSequence {
  /** Positions consumed. */
  position = 0;
  capacity = 0;
  /** Byte offsets of the key and value caches (0 until the first token). */
  keys = 0;
  values = 0;

  constructor(readonly hm: HostModel) {}

  /** Makes room for `n` positions in all (copies the cache to a larger region when needed). */
  reserve(n: number): void {
    if (n <= this.capacity) return;
    const { model, heap, kvDim } = this.hm;
    const L = model.config.numLayers;
    const cap = Math.min(model.config.maxSeqLen, Math.max(n, FIRST_CAPACITY, this.capacity * 2));
    const keys = heap.alloc(L * cap * kvDim);
    const values = heap.alloc(L * cap * kvDim);
    if (this.position > 0)
      for (let l = 0; l < L; l++) {
        const bytes = this.position * kvDim * 4;
        heap.kernels.copy(keys + l * cap * kvDim * 4, this.keys + l * this.capacity * kvDim * 4, bytes);
        heap.kernels.copy(values + l * cap * kvDim * 4, this.values + l * this.capacity * kvDim * 4, bytes);
      }
    this.releaseCache();
    this.keys = keys;
    this.values = values;
    this.capacity = cap;
  }

  /** Frees the cache and starts over at position 0 (a new sequence in the same slot). */
  reset(): void {
    this.releaseCache();
    this.capacity = 0;
    this.position = 0;
  }

  private releaseCache(): void {
    const { heap, kvDim, model } = this.hm;
    const floats = model.config.numLayers * this.capacity * kvDim;
    heap.release(this.keys, floats);
    heap.release(this.values, floats);
    this.keys = 0;
    this.values = 0;
  }
}

/** One token to run: the sequence it extends, and whether its next-token logits are wanted. */
export interface HostRow {
  seq: HostSequence;
  token: number;
  logits: boolean;
}

/** Activations of up to `rows` rows (byte offsets into the host memory). */
interface Scratch {
  rows: number;
  x: number;
  xb: number;
  q: number;
  k: number;
  v: number;
  heads: number;
  hb: number;
  hb2: number;
  att: number;
  logits: number;
}

/** Runs rows through the model on one weight set; owns its activations. */
export class HostForward {
  private scratch: Scratch | null = null;
  private readonly pos: number[] = [];

  constructor(readonly hm: HostModel) {}

  /**
   * Feeds `rows` (a sequence's rows in order) under the weights of `set`; returns the next-token logits of the rows
   * that ask for them, in row order (copies: they stay valid).
   */
  run(set: WeightSet, rows: readonly HostRow[]): Float32Array[] {
    const { hm } = this;
    const c = hm.model.config;
    const { dim: d, qDim, kvDim, hs } = hm;
    const { hiddenDim: hd, numHeads: nh, numKvHeads: nkv, vocabSize: V, maxSeqLen: S } = c;
    const R = rows.length;
    // each row's position: its sequence's next one, after the sequence's earlier rows in this call
    const next = new Map<HostSequence, number>();
    for (const [r, row] of rows.entries()) {
      const p = next.get(row.seq) ?? row.seq.position;
      if (p >= S) throw new Error(`decode: position ${p + 1} exceeds maxSeqLen ${S}`);
      if (!Number.isInteger(row.token) || row.token < 0 || row.token >= V)
        throw new Error(`token id out of range: ${row.token}; expected an integer in [0, ${V})`);
      this.pos[r] = p;
      next.set(row.seq, p + 1);
    }
    for (const [seq, end] of next) seq.reserve(end);
    const s = this.ensure(R);
    const k = hm.heap.kernels;
    for (let r = 0; r < R; r++) k.copy(s.x + r * d * 4, hm.embedding + rows[r].token * d * 4, d * 4);
    const half = (hs / 2) * 4;
    const sqrtHs = Math.sqrt(hs);
    for (let l = 0; l < c.numLayers; l++) {
      const W = set.w[l];
      const sh = hm.layers[l];
      k.rmsnorm(s.xb, s.x, sh.attnNorm, d, R, c.normEps);
      k.matmulPacked(s.q, s.xb, W.q, sh.bias.q, d, qDim, R, 0);
      k.matmulPacked(s.k, s.xb, W.k, sh.bias.k, d, kvDim, R, 0);
      k.matmulPacked(s.v, s.xb, W.v, sh.bias.v, d, kvDim, R, 0);
      // rotate, then store each row's key and value at its position in its cache
      for (let r = 0; r < R; r++) {
        const { seq } = rows[r];
        const p = this.pos[r];
        const q = s.q + r * qDim * 4;
        const kr = s.k + r * kvDim * 4;
        k.rope(q, hm.cos + p * half, hm.sin + p * half, qDim, hs);
        k.rope(kr, hm.cos + p * half, hm.sin + p * half, kvDim, hs);
        const at = (l * seq.capacity + p) * kvDim * 4;
        k.copy(seq.keys + at, kr, kvDim * 4);
        k.copy(seq.values + at, s.v + r * kvDim * 4, kvDim * 4);
      }
      for (let r = 0; r < R; r++) {
        const { seq } = rows[r];
        const layer = l * seq.capacity * kvDim * 4;
        k.attention(
          s.heads + r * qDim * 4,
          s.q + r * qDim * 4,
          seq.keys + layer,
          seq.values + layer,
          s.att,
          this.pos[r] + 1,
          nh,
          nkv,
          hs,
          kvDim,
          sqrtHs,
        );
      }
      k.matmulPacked(s.x, s.heads, W.o, sh.bias.o, qDim, d, R, 1);
      k.rmsnorm(s.xb, s.x, sh.mlpNorm, d, R, c.normEps);
      k.matmulPacked(s.hb, s.xb, W.gate, sh.bias.gate, d, hd, R, 0);
      k.matmulPacked(s.hb2, s.xb, W.up, sh.bias.up, d, hd, R, 0);
      k.swiglu(s.hb, s.hb2, R * hd);
      k.matmulPacked(s.x, s.hb, W.down, sh.bias.down, hd, d, R, 1);
    }
    for (const [seq, end] of next) seq.position = end;
    // logits of the rows that want them: contiguous runs in one matmul each
    const out: Float32Array[] = [];
    for (let r = 0; r < R; ) {
      if (!rows[r].logits) {
        r++;
        continue;
      }
      let e = r;
      while (e < R && rows[e].logits) e++;
      k.rmsnorm(s.xb, s.x + r * d * 4, hm.finalNorm, d, e - r, c.normEps);
      k.matmul(s.logits, s.xb, hm.head, 0, d, V, e - r, 0);
      const view = hm.heap.f32;
      for (let i = 0; i < e - r; i++) out.push(view.slice(s.logits / 4 + i * V, s.logits / 4 + (i + 1) * V));
      r = e;
    }
    return out;
  }

  /** Activations for `rows` rows (reallocated when more are needed). */
  private ensure(rows: number): Scratch {
    if (this.scratch && this.scratch.rows >= rows) return this.scratch;
    this.dispose();
    const { heap, dim: d, qDim, kvDim, model } = this.hm;
    const c = model.config;
    const a = (n: number) => heap.alloc(n);
    this.scratch = {
      rows,
      x: a(rows * d),
      xb: a(rows * d),
      q: a(rows * qDim),
      k: a(rows * kvDim),
      v: a(rows * kvDim),
      heads: a(rows * qDim),
      hb: a(rows * c.hiddenDim),
      hb2: a(rows * c.hiddenDim),
      att: a(c.maxSeqLen),
      logits: a(rows * c.vocabSize),
    };
    return this.scratch;
  }

  /** Frees the activations. */
  dispose(): void {
    const s = this.scratch;
    if (!s) return;
    const { heap, dim: d, qDim, kvDim, model } = this.hm;
    const c = model.config;
    const sizes: [number, number][] = [
      [s.x, s.rows * d],
      [s.xb, s.rows * d],
      [s.q, s.rows * qDim],
      [s.k, s.rows * kvDim],
      [s.v, s.rows * kvDim],
      [s.heads, s.rows * qDim],
      [s.hb, s.rows * c.hiddenDim],
      [s.hb2, s.rows * c.hiddenDim],
      [s.att, c.maxSeqLen],
      [s.logits, s.rows * c.vocabSize],
    ];
    for (const [at, n] of sizes) heap.release(at, n);
    this.scratch = null;
  }
}
