// The output head fused with the next-token loss, over chunks of the vocabulary (the kernels and the backward:
// src/backend/kernels/head-nll.ts): h (N, d) and targets (N) give −log p(target) per token without the (N, V)
// gradient or a transposed copy of the table ever existing. Training uses it (Transformer.tokenNll); `forward`
// still makes plain logits for decoding and for callers that want them.
import type * as tf from '@tensorflow/tfjs';
import { HEAD_NLL_MAX_CHUNKS, type HeadNllAttrs, headNllOp } from '../../backend/kernels/head-nll.js';

/** The vocabulary's weights: rows of a tied embedding (V, d) or columns of an untied head (d, V), base then added. */
export interface VocabWeights {
  layout: HeadNllAttrs['layout'];
  parts: readonly tf.Tensor2D[];
}

export interface HeadNllOptions {
  /** Vocabulary entries per chunk. Default: CHUNK_FLOATS / N, at least 1024, a multiple of 8. */
  chunk?: number;
  /** Keep the logits for the backward. Default: when the N·V logits take at most KEEP_LOGITS_BYTES. */
  keepLogits?: boolean;
}

/** Floats of one chunk's logits (N × chunk) by default: 16 MiB. */
export const CHUNK_FLOATS = 4 * 2 ** 20;

/** Largest N·V logits kept for the backward by default (recomputed above): 256 MiB. */
export const KEEP_LOGITS_BYTES = 256 * 2 ** 20;

/** −log softmax(h·E)[target] per row, (N); a target outside [0, V) gives 0. Pure: call inside a tidy. */
export function headNll(
  h: tf.Tensor2D,
  vocab: VocabWeights,
  targets: tf.Tensor1D,
  options: HeadNllOptions = {},
): tf.Tensor1D {
  const N = h.shape[0];
  const V = vocab.parts.reduce((n, w) => n + (vocab.layout === 'rows' ? w.shape[0] : w.shape[1]), 0);
  const fewest = Math.ceil(V / (HEAD_NLL_MAX_CHUNKS - vocab.parts.length));
  const chunk = options.chunk ?? Math.max(1024, fewest, 8 * Math.floor(CHUNK_FLOATS / N / 8));
  const keepLogits = options.keepLogits ?? N * V * 4 <= KEEP_LOGITS_BYTES;
  return headNllOp(h, vocab.parts, targets, { layout: vocab.layout, chunk, keepLogits });
}
