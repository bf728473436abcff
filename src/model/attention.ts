// Causal self-attention with grouped-query heads (llama2.c `kv_mul`), RoPE, and an optional KV cache.
import * as tf from '@tensorflow/tfjs';
import { causalAttention, causalAttentionRuns } from '../backend/kernels/causal-attention.js';
import { reshapeView } from '../backend/kernels/shape-only.js';
import { headSize, type ModelConfig } from './config.js';
import { maskedSoftmax } from './fused/masked-softmax.js';
import type { KVCache } from './kv-cache.js';
import type { LinearContext, LinearLike } from './linear.js';
import type { Rope } from './rope.js';

/** Additive value that removes a key from a query's attention (finite, so fully masked rows stay NaN-free). */
export const MASKED = -1e9;

export interface AttentionInput {
  /** Tokens per sequence in this call. */
  T: number;
  /** Position of the first token (the cache length when decoding). */
  pos: number;
  /**
   * The additive mask over (query, key): (T, pos + T) causal, or (B, T, pos + T) with an extra mask (step
   * skipping) added; built once per forward by `attentionMask` and shared by every layer.
   */
  mask: tf.Tensor2D | tf.Tensor3D;
  cache?: KVCache;
  layer: number;
  ctx?: LinearContext;
  /**
   * With T = 1: each row's own position (rows of one cache at different lengths), for RoPE; the keys still go to
   * column `pos` of the cache and the mask still decides which columns a row sees. Absent: every row at `pos`.
   */
  positions?: readonly number[];
}

export class Attention {
  readonly nh: number;
  readonly nkv: number;
  readonly hs: number;

  constructor(
    config: ModelConfig,
    public q: LinearLike,
    public k: LinearLike,
    public v: LinearLike,
    public o: LinearLike,
  ) {
    this.nh = config.numHeads;
    this.nkv = config.numKvHeads;
    this.hs = headSize(config); // dim / numHeads unless the config says otherwise (q/k/v/o are sized by it)
  }

  /** x: (B·T, d) → (B·T, d), through q (B·T, nh·hs), k/v (B·T, nkv·hs) and o (B·T, nh·hs) → (B·T, d). */
  apply(
    x: tf.Tensor2D,
    rope: Rope,
    { T, pos, mask, cache, layer, ctx, positions }: AttentionInput,
  ): tf.Tensor2D {
    const { nh, nkv, hs } = this;
    const B = x.shape[0] / T;
    const group = nh / nkv;
    const rotate = (y: tf.Tensor2D, H: number, scale = 1) =>
      positions ? rope.headsAt(y, H, positions, scale) : rope.heads(y, B, T, H, pos, scale);
    const q = rotate(this.q.apply(x, ctx), nh, 1 / Math.sqrt(hs)); // (B, nh, T, hs), scaled
    let kh = rotate(this.k.apply(x, ctx), nkv); // (B, nkv, T, hs)
    let vh = tf.transpose(reshapeView(this.v.apply(x, ctx), [B, T, nkv, hs]), [0, 2, 1, 3]) as tf.Tensor4D; // (B, nkv, T, hs)
    if (cache) [kh, vh] = cache.append(layer, kh, vh); // (B, nkv, S, hs), S = pos + T
    const S = kh.shape[2];

    // Query heads h = kv·group + g share kv head `kv`: fold the group into the query rows. The 1/√hs scale is on
    // q (applied by rope.heads), and the mask is (T, S) or (B, T, S), so the softmax makes the only (B, nh, T, S)
    // tensor besides the scores: at T = 512 each is tens of MB of wasm heap. The mask is attentionMask's, causal
    // plus any extra, so the products and the softmax may skip the keys after each query.
    const qh = reshapeView<tf.Rank.R3>(q, [B * nkv, group * T, hs]); // (B·nkv, group·T, hs)
    let y: tf.Tensor3D; // (B·nkv, group·T, hs)
    if (causalAttentionRuns(group * T)) {
      const [k3, v3] = [kh, vh].map((t) => reshapeView<tf.Rank.R3>(t, [B * nkv, S, hs])); // (B·nkv, S, hs)
      y = causalAttention(qh, k3, v3, mask, { nh, B });
    } else y = this.composed(qh, kh, vh, mask, { B, T, S });
    const yh = tf.transpose(reshapeView(y, [B, nh, T, hs]), [0, 2, 1, 3]); // (B, T, nh, hs)
    return this.o.apply(reshapeView<tf.Rank.R2>(yh, [B * T, nh * hs]), ctx); // (B·T, d)
  }

  /** softmax(q·kᵀ + mask)·v with tf ops: q (B·nkv, group·T, hs), k and v (B, nkv, S, hs) → (B·nkv, group·T, hs). */
  private composed(
    qh: tf.Tensor3D,
    kh: tf.Tensor4D,
    vh: tf.Tensor4D,
    mask: tf.Tensor2D | tf.Tensor3D,
    { B, T, S }: { B: number; T: number; S: number },
  ): tf.Tensor3D {
    const { nh, nkv, hs } = this;
    const group = nh / nkv;
    const kT = tf.transpose(reshapeView<tf.Rank.R3>(kh, [B * nkv, S, hs]), [0, 2, 1]); // (B·nkv, hs, S)
    // reshapeView throughout: tf.reshape would keep its input (the scores, y, the projections' outputs) alive for
    // the backward, only to read its shape
    const scores = reshapeView<tf.Rank.R4>(tf.matMul(qh, kT), [B, nh, T, S]); // (B, nh, T, S)
    const att = reshapeView(maskedSoftmax(scores, mask, { causal: true }), [B * nkv, group * T, S]); // (B·nkv, group·T, S)
    return tf.matMul(att, reshapeView<tf.Rank.R3>(vh, [B * nkv, S, hs])); // (B·nkv, group·T, hs)
  }
}

/** The layers' mask for T queries at positions [pos, pos + T): causal, plus `extra` (B, T, pos + T) when given. */
export function attentionMask(T: number, pos: number, extra?: tf.Tensor3D): tf.Tensor2D | tf.Tensor3D {
  const causal = causalMask(T, pos, pos + T); // (T, S)
  return extra ? (tf.add(extra, causal) as tf.Tensor3D) : causal; // (B, T, S) or (T, S)
}

/** (T, S) additive mask: query i (at position pos + i) sees keys j ≤ pos + i. */
export function causalMask(T: number, pos: number, S: number): tf.Tensor2D {
  const m = new Float32Array(T * S);
  for (let i = 0; i < T; i++) for (let j = pos + i + 1; j < S; j++) m[i * S + j] = MASKED;
  return tf.tensor2d(m, [T, S]);
}
