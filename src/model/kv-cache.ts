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
