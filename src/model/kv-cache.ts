// The key/value cache of incremental decoding (llama2.c RunState key_cache / value_cache).
import * as tf from '@tensorflow/tfjs';

/** Per-layer keys and values of the positions seen so far: each (B, kvHeads, length, hs). */
export class KVCache {
  readonly keys: (tf.Tensor4D | null)[];
  readonly values: (tf.Tensor4D | null)[];
  /** Number of positions cached (the next token's position). */
  length = 0;

  constructor(
    readonly numLayers: number,
    readonly batchSize: number,
  ) {
    this.keys = new Array(numLayers).fill(null);
    this.values = new Array(numLayers).fill(null);
  }

  /**
   * Appends this step's keys/values for `layer` and returns the full ones. The cache keeps its own
   * references (outside any tidy), and the previous tensors are released.
   */
  append(layer: number, k: tf.Tensor4D, v: tf.Tensor4D): [tf.Tensor4D, tf.Tensor4D] {
    const oldK = this.keys[layer];
    const oldV = this.values[layer];
    const newK = tf.keep(oldK ? tf.concat([oldK, k], 2) : tf.clone(k)); // (B, kvH, len + T, hs)
    const newV = tf.keep(oldV ? tf.concat([oldV, v], 2) : tf.clone(v));
    oldK?.dispose();
    oldV?.dispose();
    this.keys[layer] = newK;
    this.values[layer] = newV;
    return [newK, newV];
  }

  /**
   * A new cache holding only the sequences `rows` (indices into this batch, in that order), at the same length:
   * e.g. finished sequences dropped from a decoding batch. This cache is unchanged; dispose it when done.
   */
  gather(rows: readonly number[]): KVCache {
    if (rows.length === 0 || rows.some((r) => !Number.isInteger(r) || r < 0 || r >= this.batchSize))
      throw new Error(`KVCache.gather: rows [${rows}] must be a non-empty list of 0..${this.batchSize - 1}`);
    const out = new KVCache(this.numLayers, rows.length);
    out.length = this.length;
    tf.tidy(() => {
      const idx = tf.tensor1d(rows as number[], 'int32');
      for (let l = 0; l < this.numLayers; l++) {
        const k = this.keys[l];
        const v = this.values[l];
        if (k) out.keys[l] = tf.keep(tf.gather(k, idx, 0)); // (rows, kvH, length, hs)
        if (v) out.values[l] = tf.keep(tf.gather(v, idx, 0));
      }
    });
    return out;
  }

  /**
   * A new cache with `n` zero positions before every row's own (length + n): rows right-aligned to a longer batch,
   * whose leading positions the caller masks. This cache is unchanged.
   */
  padFront(n: number): KVCache {
    return this.map(this.batchSize, this.length + n, (t) => {
      const [B, H, , hs] = t.shape;
      return tf.concat([tf.zeros([B, H, n, hs]), t], 2); // (B, kvH, n + length, hs)
    });
  }

  /** A new cache without the first `n` positions of every row (padding no row needs any more). */
  trimFront(n: number): KVCache {
    if (!Number.isInteger(n) || n < 0 || n > this.length)
      throw new Error(`KVCache.trimFront: ${n} is not in 0..${this.length}`);
    return this.map(this.batchSize, this.length - n, (t) => tf.slice(t, [0, 0, n, 0], [-1, -1, -1, -1]));
  }

  /** A new cache holding this cache's rows, then `other`'s (same length and layers). Both are unchanged. */
  concatRows(other: KVCache): KVCache {
    if (other.length !== this.length || other.numLayers !== this.numLayers)
      throw new Error(
        `KVCache.concatRows: lengths ${this.length} and ${other.length}, layers ${this.numLayers} and ${other.numLayers}`,
      );
    const out = new KVCache(this.numLayers, this.batchSize + other.batchSize);
    out.length = this.length;
    tf.tidy(() => {
      for (let l = 0; l < this.numLayers; l++) {
        const [k, v, ok, ov] = [this.keys[l], this.values[l], other.keys[l], other.values[l]];
        if (k && ok) out.keys[l] = tf.keep(tf.concat([k, ok], 0)); // (B + B', kvH, length, hs)
        if (v && ov) out.values[l] = tf.keep(tf.concat([v, ov], 0));
      }
    });
    return out;
  }

  /** A new cache of `batch` rows and `length` positions whose every tensor is f(this one's). */
  private map(batch: number, length: number, f: (t: tf.Tensor4D) => tf.Tensor): KVCache {
    const out = new KVCache(this.numLayers, batch);
    out.length = length;
    tf.tidy(() => {
      for (let l = 0; l < this.numLayers; l++) {
        const k = this.keys[l];
        const v = this.values[l];
        if (k) out.keys[l] = tf.keep(f(k)) as tf.Tensor4D;
        if (v) out.values[l] = tf.keep(f(v)) as tf.Tensor4D;
      }
    });
    return out;
  }

  dispose(): void {
    for (const t of [...this.keys, ...this.values]) t?.dispose();
    this.keys.fill(null);
    this.values.fill(null);
    this.length = 0;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
