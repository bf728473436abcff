// Rows on the tfjs graph: the batch's keys and values are one KV cache tensor per layer, (B, kvH, L, hs), whose
// rows hold sequences of different lengths.
//
//   - A row is right-aligned: its sequence of `len` positions fills the last `len` columns; the first L − len are
//     padding, hidden from its queries by an additive mask (B, 1, L + 1) built for every step.
//   - A new sequence's prompt is fed alone (a batch-1 forward at positions 0 … P − 1, exactly as it runs alone),
//     then its cache row is joined to the batch: zero columns in front of the shorter side, rows concatenated.
//   - Every step appends one column to every row; RoPE rotates each row's token by that row's own position
//     (ForwardOptions.positions), so a row's keys carry the rotations it would have alone, wherever its columns are.
//   - A finished row leaves by a gather of the other rows; columns that are padding in every remaining row are
//     trimmed, so L stays the longest live sequence and never exceeds the model's context.
import * as tf from '@tensorflow/tfjs';
import { routeOf } from '../../experts/routing.js';
import { MASKED } from '../../model/attention.js';
import type { KVCache } from '../../model/kv-cache.js';
import type { LinearContext } from '../../model/linear.js';
import type { Transformer } from '../../model/transformer.js';
import type { ExpertName } from '../../steps.js';
import { type Row, type RowDecoder, type RowFeed, routingFor } from './rows.js';

/** A sequence in the batch: its length (its next position). */
class TensorRow {
  constructor(public len: number) {}
}

export class TensorRows implements RowDecoder {
  private cache: KVCache | null = null;
  /** Live rows in cache-row order. */
  private rows: TensorRow[] = [];

  constructor(
    private readonly model: Transformer,
    private readonly merged: boolean,
  ) {}

  /** Columns of the batch cache. */
  private get width(): number {
    return this.cache?.length ?? 0;
  }

  async start(prompt: readonly number[], expert?: ExpertName) {
    if (prompt.length === 0) throw new Error('TensorRows.start: expected at least one prompt token');
    const own = this.model.newCache(1);
    let logits: Float32Array;
    try {
      [logits] = await this.forward(own, [[...prompt]], routingFor(this.model, [expert], this.merged));
    } catch (e) {
      own.dispose();
      throw e;
    }
    const row = new TensorRow(prompt.length);
    this.join(own);
    this.rows.push(row);
    return { row, logits };
  }

  /** Joins a one-row cache to the batch's, right-aligning the shorter side; takes ownership of `own`. */
  private join(own: KVCache): void {
    const batch = this.cache;
    if (!batch) {
      this.cache = own;
      return;
    }
    const L = batch.length;
    const P = own.length;
    const a = P > L ? batch.padFront(P - L) : batch;
    const b = L > P ? own.padFront(L - P) : own;
    this.cache = a.concatRows(b);
    for (const c of new Set([batch, own, a, b])) c.dispose();
  }

  async step(feeds: readonly RowFeed[]): Promise<Float32Array[]> {
    const cache = this.cache;
    if (!cache || feeds.length !== this.rows.length)
      throw new Error(`TensorRows.step: ${feeds.length} feeds for ${this.rows.length} live rows`);
    // feeds in cache-row order
    const at = new Map(feeds.map((f, i) => [f.row, i]));
    const order = this.rows.map((r) => {
      const i = at.get(r);
      if (i === undefined) throw new Error('TensorRows.step: every live row needs a token');
      return i;
    });
    const L = this.width;
    const ids = order.map((i) => [feeds[i].id]);
    const positions = this.rows.map((r) => r.len);
    const ctx = routingFor(
      this.model,
      order.map((i) => feeds[i].expert),
      this.merged,
    );
    const logits = await this.forward(cache, ids, ctx, padMask(this.rows, L), positions);
    for (const r of this.rows) r.len++;
    const out: Float32Array[] = new Array(feeds.length);
    order.forEach((i, j) => {
      out[i] = logits[j];
    });
    return out;
  }

  /** One forward of `ids` on `cache` → each row's next-token logits; frees the route and mask it is given. */
  private async forward(
    cache: KVCache,
    ids: number[][],
    ctx: LinearContext | undefined,
    attnMask?: tf.Tensor3D,
    positions?: number[],
  ): Promise<Float32Array[]> {
    try {
      const out = this.model.decode(ids, cache, { ctx, attnMask, positions }); // (B, vocab)
      const flat = (await out.data()) as Float32Array;
      out.dispose();
      const V = out.shape[1];
      return ids.map((_, b) => flat.subarray(b * V, (b + 1) * V));
    } finally {
      attnMask?.dispose();
      routeOf(ctx)?.dispose();
    }
  }

  position(row: Row): number {
    return this.live(row).len;
  }

  end(row: Row): void {
    const r = this.live(row);
    const i = this.rows.indexOf(r);
    const cache = this.cache!;
    this.rows.splice(i, 1);
    if (this.rows.length === 0) {
      cache.dispose();
      this.cache = null;
      return;
    }
    const kept = cache.gather(this.rows.map((_, j) => (j < i ? j : j + 1)));
    cache.dispose();
    // columns that are padding in every remaining row go
    const pad = Math.min(...this.rows.map((x) => kept.length - x.len));
    this.cache = pad > 0 ? kept.trimFront(pad) : kept;
    if (pad > 0) kept.dispose();
  }

  private live(row: Row): TensorRow {
    if (!(row instanceof TensorRow) || !this.rows.includes(row))
      throw new Error('TensorRows: not a live row');
    return row;
  }

  dispose(): void {
    this.cache?.dispose();
    this.cache = null;
    this.rows = [];
  }
}

/**
 * Additive mask (B, 1, L + 1) for one new token per row: row b's first L − len_b columns are padding. Undefined when
 * no row is padded.
 */
function padMask(rows: readonly TensorRow[], L: number): tf.Tensor3D | undefined {
  const pads = rows.map((r) => L - r.len);
  if (pads.every((p) => p === 0)) return undefined;
  const S = L + 1;
  const m = new Float32Array(rows.length * S);
  pads.forEach((p, b) => {
    m.fill(MASKED, b * S, b * S + p);
  });
  return tf.tensor3d(m, [rows.length, 1, S]);
}
