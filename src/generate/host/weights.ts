// A model's weights in the host decoder's memory (heap.ts), laid out once for the decode kernels: every projection
// (out, in) in packed blocks of four rows (packBlocks), so that a matrix-vector product reads each block as one
// forward stream; the embedding table (vocab, d), row-major, serves both the token lookup and, when tied, the
// output head. One `HostModel` per Transformer, shared
// by every host decoder of that model, so a new sequence costs no copy of the weights.
//
// What does not depend on the routing (embedding, norms, biases, head, RoPE tables) is stored once; the projections
// are stored per *weight set*: the (in, out) matrices `weightFor(ctx)` returns (the base weights, or per-step merged
// ones when MoTE experts are attached). A set is found by the identity of those tensors, and every stored part
// remembers the dataIds it was copied from: tfjs gives a variable a new dataId on every assign and rebuilds a merged
// weight as a new tensor, so a weight changed since (training, new experts) is noticed and copied again. Sets beyond
// the memory budget evict the least recently used one.
import * as tf from '@tensorflow/tfjs';
import { headSize, LINEAR_MODULES, type LinearModule } from '../../model/config.js';
import type { LinearContext } from '../../model/linear.js';
import type { Transformer } from '../../model/transformer.js';
import { HEAP_MAX_BYTES, WasmHeap } from './heap.js';

/** Byte offsets of one layer's shared parts (0: none). */
interface SharedLayer {
  attnNorm: number;
  mlpNorm: number;
  bias: Record<LinearModule, number>;
}

/** One routing's projections: byte offsets per layer and module, and the tensors they were copied from. */
export interface WeightSet {
  readonly w: Record<LinearModule, number>[];
  /** The weightFor tensors and their dataIds at copy time, in slot order. */
  readonly sources: tf.Tensor[];
  readonly stamps: unknown[];
  readonly at: number;
  readonly floats: number;
  lastUsed: number;
}

/** Floats of one weight set (every projection of every layer). */
export function weightSetFloats(model: Transformer): number {
  return model.linearSlots().reduce((n, s) => n + s.get().inFeatures * s.get().outFeatures, 0);
}

/** What stays below 4 GiB for the KV caches and activations when weight sets fill the rest. */
const RESERVE_BYTES = 256 * 2 ** 20;

export class HostModel {
  readonly heap = new WasmHeap();
  readonly dim: number;
  readonly hs: number;
  readonly qDim: number;
  readonly kvDim: number;
  /** The layout's shape: a model whose config changed (added tokens) gets a new HostModel. */
  readonly shapeKey: string;
  // shared parts (byte offsets)
  embedding = 0;
  head = 0;
  finalNorm = 0;
  layers: SharedLayer[] = [];
  /** cos / sin of every (position, pair): (maxSeqLen, hs/2). */
  cos = 0;
  sin = 0;
  private sharedStamps: unknown[] = [];
  private readonly sets: WeightSet[] = [];
  private clock = 0;
  /** Most weight sets kept at once (the memory budget; at least 1). */
  readonly maxSets: number;

  constructor(readonly model: Transformer) {
    const c = model.config;
    this.dim = c.dim;
    this.hs = headSize(c);
    this.qDim = this.hs * c.numHeads;
    this.kvDim = this.hs * c.numKvHeads;
    this.shapeKey = shapeKeyOf(model);
    this.writeShared();
    const setBytes = weightSetFloats(model) * 4;
    const room = HEAP_MAX_BYTES - RESERVE_BYTES - this.heap.usedBytes;
    if (setBytes > room)
      throw new Error(
        `the host decoder cannot hold this model: its projections take ${(setBytes / 2 ** 30).toFixed(2)} GiB ` +
          `beside ${(this.heap.usedBytes / 2 ** 30).toFixed(2)} GiB of embeddings and norms, and a WebAssembly memory ` +
          'addresses 4 GiB; use the tensor decoder (decoder: "tensor")',
      );
    this.maxSets = Math.max(1, Math.floor(room / setBytes));
  }

  /** The weight set of `ctx` (copied now if it is not held or is stale); the shared parts refreshed if stale. */
  weightSet(ctx: LinearContext | undefined): WeightSet {
    if (!sameStamps(this.sharedStamps, this.sharedSources())) this.writeShared();
    const sources = this.model.linearSlots().map((s) => s.get().weightFor(ctx));
    const stamps = sources.map((t) => t.dataId);
    let set = this.sets.find(
      (s) => s.sources.every((t, i) => t === sources[i]) && sameStamps(s.stamps, stamps),
    );
    if (!set) {
      // stale copies of the same tensors, and sets whose tensors are gone, are dropped first
      for (const s of [...this.sets])
        if (s.sources.some((t, i) => t === sources[i] || t.isDisposed)) this.drop(s);
      while (this.sets.length >= this.maxSets)
        this.drop(this.sets.reduce((a, b) => (a.lastUsed <= b.lastUsed ? a : b)));
      set = this.writeSet(sources, stamps);
      this.sets.push(set);
    }
    set.lastUsed = ++this.clock;
    return set;
  }

  /** Whether `set` is still held (an evicted set must be asked for again). */
  holds(set: WeightSet): boolean {
    return this.sets.includes(set);
  }

  /** Number of weight sets held (tests, memory accounting). */
  get setCount(): number {
    return this.sets.length;
  }

  private drop(set: WeightSet): void {
    this.sets.splice(this.sets.indexOf(set), 1);
    this.heap.release(set.at, set.floats);
  }

  private writeSet(sources: tf.Tensor[], stamps: unknown[]): WeightSet {
    const slots = this.model.linearSlots();
    const floats = sources.reduce((n, t) => n + t.size, 0);
    const at = this.heap.alloc(floats);
    const w = this.model.blocks.map(() => ({}) as Record<LinearModule, number>);
    let p = at;
    slots.forEach((slot, i) => {
      w[slot.layer][slot.module] = p;
      writePacked(this.heap, p, sources[i] as tf.Tensor2D);
      p += sources[i].size * 4;
    });
    return { w, sources, stamps, at, floats, lastUsed: 0 };
  }

  /** The tensors the shared parts are copied from, in a fixed order (undefined: absent). */
  private sharedSources(): (tf.Tensor | null)[] {
    const m = this.model;
    const out: (tf.Tensor | null)[] = [
      m.embedding,
      m.addedEmbedding,
      m.finalNorm.weight,
      m.head?.weight ?? null,
    ];
    out.push(m.addedHead);
    for (const b of m.blocks) out.push(b.attnNorm.weight, b.mlpNorm.weight);
    for (const s of m.linearSlots()) out.push(s.get().bias ?? null);
    return out;
  }

  /** (Re)writes the embedding, head, norms, biases and RoPE tables. */
  private writeShared(): void {
    const m = this.model;
    const c = m.config;
    const h = this.heap;
    const fresh = this.embedding === 0;
    if (fresh) {
      this.embedding = h.alloc(c.vocabSize * c.dim);
      this.head = m.head ? h.alloc(c.vocabSize * c.dim) : this.embedding;
      this.finalNorm = h.alloc(c.dim);
      this.layers = m.blocks.map(() => ({
        attnNorm: h.alloc(c.dim),
        mlpNorm: h.alloc(c.dim),
        bias: Object.fromEntries(LINEAR_MODULES.map((mod) => [mod, 0])) as Record<LinearModule, number>,
      }));
      for (const s of m.linearSlots()) {
        const b = s.get().bias;
        if (b) this.layers[s.layer].bias[s.module] = h.alloc(b.size);
      }
      const half = this.hs / 2;
      this.cos = h.alloc(c.maxSeqLen * half);
      this.sin = h.alloc(c.maxSeqLen * half);
      // the model's own tables (scaled RoPE included): cos2 = (c, c), sin2 = (−s, s) per pair
      const cos2 = m.rope.cos2.dataSync();
      const sin2 = m.rope.sin2.dataSync();
      const f = h.f32;
      for (let i = 0; i < c.maxSeqLen * half; i++) {
        f[this.cos / 4 + i] = cos2[2 * i];
        f[this.sin / 4 + i] = sin2[2 * i + 1];
      }
    }
    // the tables with the added token rows in place (appended, or over padding rows)
    const embedding = tf.tidy(() => m.embeddingTable()); // (vocab, d)
    try {
      write(h, this.embedding, embedding);
    } finally {
      if (embedding !== m.embedding) embedding.dispose();
    }
    if (m.head) {
      const head = tf.tidy(() => m.headTable()!); // (d, vocab)
      try {
        writeTransposed(h, this.head, head); // → (vocab, d)
      } finally {
        if (head !== m.head.weight) head.dispose();
      }
    }
    write(h, this.finalNorm, m.finalNorm.weight);
    m.blocks.forEach((b, l) => {
      write(h, this.layers[l].attnNorm, b.attnNorm.weight);
      write(h, this.layers[l].mlpNorm, b.mlpNorm.weight);
    });
    for (const s of m.linearSlots()) {
      const b = s.get().bias;
      if (b) write(h, this.layers[s.layer].bias[s.module], b);
    }
    this.sharedStamps = this.sharedSources().map((t) => t?.dataId ?? null);
  }
}

/** The layout-relevant shape of a model. */
function shapeKeyOf(model: Transformer): string {
  const c = model.config;
  return JSON.stringify([
    c.dim,
    c.hiddenDim,
    c.numLayers,
    c.numHeads,
    c.numKvHeads,
    c.vocabSize,
    c.maxSeqLen,
    headSize(c),
    c.biases,
    c.tiedEmbeddings,
    model.rope.cos2.dataId,
  ]);
}

function sameStamps(stamps: unknown[], now: unknown[]): boolean {
  return (
    stamps.length === now.length &&
    stamps.every((s, i) => s === ((now[i] as tf.Tensor | null)?.dataId ?? now[i]))
  );
}

/** Copies a tensor's values to `at`. */
function write(heap: WasmHeap, at: number, t: tf.Tensor): void {
  heap.f32.set(t.dataSync() as Float32Array, at / 4);
}

/** Copies an (in, out) matrix to `at` as (out, in) row-major (the backend transposes: SIMD on wasm). */
function writeTransposed(heap: WasmHeap, at: number, t: tf.Tensor2D): void {
  const tt = tf.transpose(t); // (out, in)
  try {
    heap.f32.set(tt.dataSync() as Float32Array, at / 4);
  } finally {
    tt.dispose();
  }
}

const models = new WeakMap<Transformer, HostModel>();

/** The host layout of `model`, made on first use and kept while the model lives (or until releaseHostModel). */
export function hostModel(model: Transformer): HostModel {
  let hm = models.get(model);
  if (!hm || hm.shapeKey !== shapeKeyOf(model)) {
    hm = new HostModel(model);
    models.set(model, hm);
  }
  return hm;
}

/**
 * Lets the host decoder's memory for `model` go (its weights copied for decoding, up to GBs for a large model);
 * decoders still running keep it until they end. The next host decoder copies the weights again.
 */
export function releaseHostModel(model: Transformer): void {
  models.delete(model);
}

/**
 * Lays `w` (m, n) row-major out at float index `at` of `dst` in packed blocks (decode.wat matmulPacked): rows 4j …
 * 4j+3 keep their 4n floats, as n/8 chunks of 32 (eight columns of each of the four rows in turn), then the n mod 8
 * remaining columns of each row; the m mod 4 last rows stay row-major.
 */
export function packBlocks(w: Float32Array, m: number, n: number, dst: Float32Array, at: number): void {
  const n8 = n - (n % 8);
  const nt = n - n8;
  const m4 = m - (m % 4);
  for (let j = 0; j < m4; j += 4) {
    const blk = at + j * n;
    for (let c = 0; c < n8; c += 8)
      for (let k = 0; k < 4; k++)
        dst.set(w.subarray((j + k) * n + c, (j + k) * n + c + 8), blk + c * 4 + k * 8);
    for (let k = 0; k < 4; k++) dst.set(w.subarray((j + k) * n + n8, (j + k + 1) * n), blk + n8 * 4 + k * nt);
  }
  dst.set(w.subarray(m4 * n), at + m4 * n);
}

/** Copies an (in, out) matrix to `at` as (out, in) in packed blocks. */
function writePacked(heap: WasmHeap, at: number, t: tf.Tensor2D): void {
  const tt = tf.transpose(t); // (out, in)
  try {
    packBlocks(tt.dataSync() as Float32Array, tt.shape[0], tt.shape[1], heap.f32, at / 4);
  } finally {
    tt.dispose();
  }
}
