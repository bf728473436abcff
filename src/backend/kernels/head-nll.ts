// The output head and the next-token loss as one op over vocabulary chunks (src/model/fused/head-nll.ts):
//   nll[n] = logsumexp_v(h[n]·e_v) − h[n]·e_t(n),     dh[n] = Σ_v softmax_v·dnll[n]·e_v − dnll[n]·e_t(n)
// where e_v is the vocabulary entry v: a row of a tied embedding (V, d) ('rows') or a column of an untied head
// (d, V) ('cols'), in two parts when token rows were added (the base's and the added ones). The logits are made
// one chunk of the vocabulary at a time; the backward turns each chunk into its gradient, multiplies it back into
// dh and frees it, so neither the (N, V) gradient nor a transposed table is ever materialised (the unfused path held
// logits, softmax, their gradient and two (d, V) transposes of the table at once). The chunks' logits are kept for
// the backward (N·V floats) unless `keepLogits` is false: then the backward recomputes them. On wasm a tied table is
// read where it lies (weight-matmul.ts rowsMatMul). A target outside [0, V) gives nll 0 and no gradient, as
// tokenNll does.
import * as tf from '@tensorflow/tfjs';
import { KERNEL_BACKENDS } from './backends.js';
import { opKernelConfigs } from './js-kernel.js';
import { rowLogSumExp, softmaxScaled } from './row-softmax.js';
import { runKernel } from './run.js';
import type { KernelSet } from './types.js';
import { rowsMatMul, weightMatMul, weightMatMulT } from './weight-matmul.js';

export const HEAD_NLL = 'MoteHeadNll';

/** Most chunks an op call makes (its outputs are saved by position: see outputsToSave). */
export const HEAD_NLL_MAX_CHUNKS = 256;

export interface HeadNllAttrs {
  /** 'rows': vocabulary entries are rows of (V, d) weights (tied embedding); 'cols': columns of (d, V) (untied head). */
  layout: 'rows' | 'cols';
  /** Vocabulary entries per chunk (the added part is one chunk of its own). */
  chunk: number;
  /** Keep every chunk's logits for the backward (N·V floats), or recompute them there. */
  keepLogits: boolean;
}

/** One chunk: entries [v0, v0 + n) of weight part `part`. */
interface Chunk {
  part: number;
  v0: number;
  n: number;
}

/** The op's inputs: h, the weight parts (1 or 2), the targets; passed as a list (saveAllInputs). */
function unpack(list: readonly tf.Tensor[]): { h: tf.Tensor2D; parts: tf.Tensor2D[]; targets: tf.Tensor1D } {
  return {
    h: list[0] as tf.Tensor2D,
    parts: list.slice(1, -1) as tf.Tensor2D[],
    targets: list[list.length - 1] as tf.Tensor1D,
  };
}

const sizeOf = (w: tf.Tensor2D, layout: HeadNllAttrs['layout']) =>
  layout === 'rows' ? w.shape[0] : w.shape[1];

function chunksOf(parts: readonly tf.Tensor2D[], at: HeadNllAttrs): Chunk[] {
  const out: Chunk[] = [];
  parts.forEach((w, part) => {
    const V = sizeOf(w, at.layout);
    for (let v0 = 0; v0 < V; v0 += at.chunk) out.push({ part, v0, n: Math.min(at.chunk, V - v0) });
  });
  return out;
}

/** h (N, d) · entries of a chunk → logits (N, n). */
function chunkLogits(h: tf.Tensor2D, w: tf.Tensor2D, c: Chunk, layout: HeadNllAttrs['layout']): tf.Tensor2D {
  if (layout === 'rows') return rowsMatMul(h, w, c.v0, c.n, true);
  if (c.v0 === 0 && c.n === w.shape[1]) return weightMatMul(h, w);
  return tf.tidy(() => weightMatMul(h, tf.slice(w, [0, c.v0], [-1, c.n]) as tf.Tensor2D)); // (d, n) copy
}

/** g (N, n) · the chunk's entries → (N, d), the chunk's part of dh. */
function chunkBack(g: tf.Tensor2D, w: tf.Tensor2D, c: Chunk, layout: HeadNllAttrs['layout']): tf.Tensor2D {
  if (layout === 'rows') return rowsMatMul(g, w, c.v0, c.n, false);
  if (c.v0 === 0 && c.n === w.shape[1]) return weightMatMulT(g, w);
  return tf.tidy(() => weightMatMulT(g, tf.slice(w, [0, c.v0], [-1, c.n]) as tf.Tensor2D));
}

/** Offsets of the parts in the vocabulary, and the total. */
function offsets(
  parts: readonly tf.Tensor2D[],
  layout: HeadNllAttrs['layout'],
): { start: number[]; V: number } {
  const start: number[] = [];
  let V = 0;
  for (const w of parts) {
    start.push(V);
    V += sizeOf(w, layout);
  }
  return { start, V };
}

/** An int32 scalar (a plain number would make int32 arithmetic float32). */
const int = (v: number) => tf.scalar(v, 'int32');

/** 1 where the target lies in [lo, hi), else 0: (N, 1) float. */
const inRange = (t: tf.Tensor1D, lo: number, hi: number) =>
  tf.reshape(
    tf.cast(tf.logicalAnd(tf.greaterEqual(t, lo), tf.less(t, hi)), 'float32'),
    [-1, 1],
  ) as tf.Tensor2D;

/** The target's entry of each row, (N, d) (zero rows for targets outside [0, V)). */
function targetEntries(parts: readonly tf.Tensor2D[], targets: tf.Tensor1D, layout: HeadNllAttrs['layout']) {
  const { start } = offsets(parts, layout);
  let rows: tf.Tensor | null = null;
  parts.forEach((w, p) => {
    const V = sizeOf(w, layout);
    const local = tf.maximum(tf.minimum(tf.sub(targets, int(start[p])), int(V - 1)), int(0)) as tf.Tensor1D;
    const e = layout === 'rows' ? tf.gather(w, local) : tf.transpose(tf.gather(w, local, 1)); // (N, d)
    const masked = tf.mul(e, inRange(targets, start[p], start[p] + V));
    rows = rows ? tf.add(rows, masked) : masked;
  });
  return rows! as tf.Tensor2D;
}

/** Forward: [nll (N), lse (N), …logits of each chunk (N, n) when kept]. */
function forward(list: readonly tf.Tensor[], at: HeadNllAttrs): tf.Tensor[] {
  return tf.tidy(() => {
    const { h, parts, targets } = unpack(list);
    const { V } = offsets(parts, at.layout);
    const kept: tf.Tensor2D[] = [];
    const lses: tf.Tensor1D[] = [];
    for (const c of chunksOf(parts, at)) {
      // one tidy per chunk: its temporaries go before the next chunk's are made
      const [lse, logits] = tf.tidy(() => {
        const logits = chunkLogits(h, parts[c.part], c, at.layout); // (N, n)
        return [rowLogSumExp(logits), logits];
      }) as [tf.Tensor1D, tf.Tensor2D];
      lses.push(lse);
      if (at.keepLogits) kept.push(logits);
      else logits.dispose();
    }
    const lse = (lses.length === 1 ? lses[0] : tf.logSumExp(tf.stack(lses, 1), 1)) as tf.Tensor1D; // (N)
    const picked = tf.sum(tf.mul(h, targetEntries(parts, targets, at.layout)), 1); // (N): h·e_t
    const nll = tf.mul(tf.sub(lse, picked), tf.reshape(inRange(targets, 0, V), [-1])); // (N)
    return [nll, lse, ...kept];
  });
}

type GradientMap = Record<string, () => tf.Tensor>;

function backward(dnll: tf.Tensor, saved: tf.Tensor[], at: HeadNllAttrs, inputs: number): GradientMap {
  const { h, parts, targets } = unpack(saved.slice(0, inputs));
  const lse = saved[inputs] as tf.Tensor1D;
  const kept = saved.slice(inputs + 1) as tf.Tensor2D[];
  const chunks = chunksOf(parts, at);
  const { start, V } = offsets(parts, at.layout);
  const dn1 = tf.mul(dnll, tf.reshape(inRange(targets, 0, V), [-1])) as tf.Tensor1D; // (N)
  const dn = tf.reshape(dn1, [-1, 1]) as tf.Tensor2D; // (N, 1)
  /** The chunk's logit gradient softmax·dnll (N, n), without the target's −dnll (applied through e_t). */
  const grad = (i: number): tf.Tensor2D =>
    tf.tidy(() => {
      const c = chunks[i];
      const logits = at.keepLogits ? kept[i] : chunkLogits(h, parts[c.part], c, at.layout);
      return softmaxScaled(logits, lse, dn1);
    });

  const grads: GradientMap = {
    '0': () => {
      let dh: tf.Tensor = tf.neg(tf.mul(targetEntries(parts, targets, at.layout), dn)); // −dnll·e_t
      chunks.forEach((c, i) => {
        const g = grad(i);
        const part = chunkBack(g, parts[c.part], c, at.layout); // (N, d)
        g.dispose();
        const next = tf.add(dh, part);
        tf.dispose([dh, part]);
        dh = next;
      });
      return dh;
    },
  };
  parts.forEach((w, p) => {
    // a trainable part (added token rows, or the whole table in full fine-tuning): Σ gᵀ·h − the targets' dnll·h
    grads[String(p + 1)] = () => {
      const blocks = chunks.flatMap((c, i) => {
        if (c.part !== p) return [];
        const g = grad(i);
        // explicit transposes: a transposed operand takes tfjs's slow loop on wasm (tfjs-notes.md)
        const block = at.layout === 'rows' ? tf.matMul(tf.transpose(g), h) : tf.matMul(tf.transpose(h), g); // (n, d) | (d, n)
        g.dispose();
        return [block];
      });
      const n = sizeOf(w, at.layout);
      const dense = blocks.length === 1 ? blocks[0] : tf.concat(blocks, at.layout === 'rows' ? 0 : 1);
      // the one-hot part: −dnll[t]·h[t] summed into entry t (targets outside the part go to an extra row, dropped)
      const local = tf.sub(targets, int(start[p]));
      const ids = tf.where(
        tf.logicalAnd(tf.greaterEqual(local, 0), tf.less(local, n)),
        local,
        tf.fill(local.shape, n, 'int32'),
      ) as tf.Tensor1D;
      const hot = tf.slice(tf.unsortedSegmentSum(tf.mul(h, dn), ids, n + 1), [0, 0], [n, -1]); // (n, d)
      return tf.sub(dense, at.layout === 'rows' ? hot : tf.transpose(hot));
    };
  });
  grads[String(parts.length + 1)] = () => tf.zerosLike(targets);
  return grads;
}

export const headNllKernels: KernelSet = {
  kernels: opKernelConfigs(
    HEAD_NLL,
    (inputs, attrs) => forward(Object.values(inputs) as tf.Tensor[], attrs as HeadNllAttrs),
    KERNEL_BACKENDS,
  ),
  gradients: [
    {
      kernelName: HEAD_NLL,
      saveAllInputs: true,
      outputsToSave: [false, ...Array<boolean>(HEAD_NLL_MAX_CHUNKS + 1).fill(true)],
      gradFunc: (dys, saved, attrs) => {
        const dnll = Array.isArray(dys) ? dys[0] : dys;
        const at = attrs as unknown as HeadNllAttrs & { inputs: number };
        return backward(dnll, saved, at, at.inputs);
      },
    },
  ],
};

/**
 * nll (N) of `targets` under the logits h·E over the vocabulary `parts` (one or two weights of `layout`). One op with
 * its own backward; see the file header. Pure: call inside a tidy.
 */
export function headNllOp(
  h: tf.Tensor2D,
  parts: readonly tf.Tensor2D[],
  targets: tf.Tensor1D,
  attrs: HeadNllAttrs,
): tf.Tensor1D {
  const count = chunksOf(parts, attrs).length;
  if (count > HEAD_NLL_MAX_CHUNKS)
    throw new Error(
      `headNll: ${count} chunks of ${attrs.chunk}, more than ${HEAD_NLL_MAX_CHUNKS}; use larger chunks`,
    );
  const inputs = [h, ...parts, targets];
  const [nll] = runKernel<tf.Tensor[]>(HEAD_NLL, inputs, { ...attrs, inputs: inputs.length });
  return nll as tf.Tensor1D;
}
