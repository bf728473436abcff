// Attention's core, y = softmax(q·kᵀ + mask)·v per kv head, as one op on wasm with SIMD, whose products skip what the
// causal mask makes useless. The mask hides every key after a query's position, so about half of each (T, S)
// block of scores is never needed: q·kᵀ and dy·vᵀ stop their columns at a strip's last query, p·v and ds·k their
// sums there, and pᵀ·dy, dsᵀ·q start theirs at a strip's first key (backend/simd/gemm.wat `gemm_causal`); the
// softmax and its backward read only the keys a query sees (softmax.wat). With tf ops these were six full batched
// products and two transposes per layer. The model calls it only where it runs (`causalAttentionRuns`); elsewhere
// attention composes tf ops (model/attention.ts), which the tests hold it to.
//   q (B·nkv, group·T, hs), rows g·T + t: query t of head kv·group + g (scaled by 1/√hs already)
//   k, v (B·nkv, S, hs): keys j of the kv head; query t sees keys j ≤ t + S − T
//   mask (T, S) or (B, T, S): additive, causal plus any extra (step skipping)
//   y (B·nkv, group·T, hs); p (the same rows, S): the probabilities, kept for the backward
//   dp = dy·vᵀ, ds = p ⊙ (dp − ⟨p, dp⟩), dq = ds·k, dk = Σ_g ds_gᵀ·q_g, dv = Σ_g p_gᵀ·dy_g
import * as tf from '@tensorflow/tfjs';
import { GEMM_MIN_ROWS } from '../simd/instance.js';
import { maskedSoftmaxComposed } from './masked-softmax.js';
import { runKernel } from './run.js';
import type { KernelSet } from './types.js';
import { heapOffset, type WasmHeapBackend, wasmGemm } from './weight-matmul.js';

export const CAUSAL_ATTENTION = 'MoteCausalAttention';
const BACKWARD = 'MoteCausalAttentionGrad';

/** The op's attributes: the query heads, the batch. */
interface Attrs {
  nh: number;
  B: number;
}

/** gemm_causal's modes (gemm.wat). */
const ALL = 0;
const COLUMNS_TO_QUERY = 1;
const SUM_TO_QUERY = 2;
const SUM_FROM_KEY = 3;

interface Wasm extends WasmHeapBackend {
  disposeData(dataId: object): void;
}

/**
 * The shapes of one call: batch entries E (B·nkv), query rows per entry GT (group·T), T, S, hs, heads per kv head,
 * and off = S − T (query t sees keys j ≤ t + off).
 */
function dims(q: tf.TensorInfo, k: tf.TensorInfo, at: Attrs) {
  const [E, GT, hs] = q.shape;
  const S = k.shape[1];
  const group = at.nh / (E / at.B);
  const T = GT / group;
  return { E, GT, hs, S, group, T, off: S - T };
}

/** The SIMD kernels, gemm's scratch, and helpers over the heap of the wasm backend `backend`. */
function heap(backend: unknown) {
  const b = backend as Wasm;
  const g = wasmGemm(b);
  if (!g)
    throw new Error(`${CAUSAL_ATTENTION}: WebAssembly SIMD is not available (causalAttentionRuns is false)`);
  const at = (t: tf.TensorInfo) => heapOffset(b, t);
  const out = (shape: number[]) => b.makeOutput(shape, 'float32');
  const free = (...ts: tf.TensorInfo[]) => {
    for (const t of ts) b.disposeData(t.dataId);
  };
  return { k: g.k, scratch: g.scratch, at, out, free };
}

/** The options of one batched product: gemm_causal's bt, mode, T, off; and `blocks` (below). */
interface Product {
  bt?: number;
  mode?: number;
  T?: number;
  off?: number;
  /** Each entry's A and B as this many consecutive blocks (of rows), their products summed into C_e. */
  blocks?: number;
}

/**
 * C_e = A_e · B_e (or B_eᵀ) for each of the `E` batch entries of the tensors a, b, c (each an equal share of its
 * tensor), `mode` as gemm_causal's; with `blocks`, C_e = Σ_g A_{e,g}·B_{e,g}.
 */
function batched(
  h: ReturnType<typeof heap>,
  [a, b, c]: tf.TensorInfo[],
  [M, K, N]: [number, number, number],
  E: number,
  { bt = 0, mode = ALL, T = 1, off = 0, blocks = 1 }: Product = {},
): void {
  const stride = (t: tf.TensorInfo) => (tf.util.sizeFromShape(t.shape) / E) * 4; // bytes per entry
  const [as, bs, cs] = [stride(a), stride(b), stride(c)];
  for (let e = 0; e < E; e++)
    for (let g = 0; g < blocks; g++) {
      const [ae, be] = [h.at(a) + e * as + (g * as) / blocks, h.at(b) + e * bs + (g * bs) / blocks];
      h.k.gemm_causal(ae, be, h.at(c) + e * cs, M, K, N, bt, g > 0 ? 1 : 0, h.scratch, mode, T, off);
    }
}

type KernelArgs = Parameters<tf.KernelFunc>[0];

function forward({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo[] {
  const { q, k, v, mask } = inputs as Record<string, tf.TensorInfo>;
  const at = attrs as unknown as Attrs;
  const { E, GT, hs, S, T, off } = dims(q, k, at);
  const h = heap(backend);
  // scores (E, GT, S): only each query's visible keys are computed
  const scores = h.out([E, GT, S]);
  batched(h, [q, k, scores], [GT, hs, S], E, { bt: 1, mode: COLUMNS_TO_QUERY, T, off });
  const p = h.out([E, GT, S]); // ≡ (B, nh, T, S) for the mask's rows
  const perBatch = mask.shape.length === 3 ? 1 : 0;
  h.k.masked_softmax(h.at(p), h.at(scores), h.at(mask), at.B, at.nh, T, S, perBatch, 1);
  h.free(scores);
  const y = h.out([E, GT, hs]);
  batched(h, [p, v, y], [GT, S, hs], E, { mode: SUM_TO_QUERY, T, off });
  return [y, p];
}

function backward({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo[] {
  const { dy, q, k, v, p } = inputs as Record<string, tf.TensorInfo>;
  const at = attrs as unknown as Attrs;
  const { E, GT, hs, S, T, group, off } = dims(q, k, at);
  const h = heap(backend);
  // dp = dy·vᵀ, for the visible keys only; ds = p ⊙ (dp − ⟨p, dp⟩), 0 past each query
  const dp = h.out([E, GT, S]);
  batched(h, [dy, v, dp], [GT, hs, S], E, { bt: 1, mode: COLUMNS_TO_QUERY, T, off });
  const ds = h.out([E, GT, S]);
  h.k.softmax_grad(h.at(ds), h.at(dp), h.at(p), E * GT, S, T, 1);
  h.free(dp);
  // dq = ds·k
  const dq = h.out([E, GT, hs]);
  batched(h, [ds, k, dq], [GT, S, hs], E, { mode: SUM_TO_QUERY, T, off });
  // dk = Σ_g ds_gᵀ·q_g and dv = Σ_g p_gᵀ·dy_g, over transposed (S, T) blocks: key j sums queries t ≥ j − off
  const sumOverQueries = (x: tf.TensorInfo, y: tf.TensorInfo): tf.TensorInfo => {
    const xT = h.out([E * group, S, T]); // (E·group, T, S) → (E·group, S, T)
    h.k.transpose(h.at(x), h.at(xT), E * group, T, S);
    const out = h.out([E, S, hs]);
    // rows are keys (T = S: no query blocks within a product), one block per query group
    batched(h, [xT, y, out], [S, T, hs], E, { mode: SUM_FROM_KEY, T: S, off, blocks: group });
    h.free(xT);
    return out;
  };
  const dk = sumOverQueries(ds, q);
  const dv = sumOverQueries(p, dy);
  h.free(ds);
  return [dq, dk, dv];
}

export const causalAttentionKernels: KernelSet = {
  kernels: [
    { kernelName: CAUSAL_ATTENTION, backendName: 'wasm', kernelFunc: forward as unknown as tf.KernelFunc },
    { kernelName: BACKWARD, backendName: 'wasm', kernelFunc: backward as unknown as tf.KernelFunc },
  ],
  gradients: [
    {
      kernelName: CAUSAL_ATTENTION,
      inputsToSave: ['q', 'k', 'v', 'mask'],
      outputsToSave: [false, true],
      gradFunc: (dys, saved, attrs) => {
        const dy = (Array.isArray(dys) ? dys[0] : dys) as tf.Tensor;
        const [q, k, v, mask, p] = saved;
        // the three gradients from one pass, made here rather than in the closures: tfjs's own backprop runs each
        // closure in a tidy of its own, which would free the others (train/backprop.ts runs a node's in one)
        const [dq, dk, dv] = runKernel<tf.Tensor[]>(BACKWARD, { dy, q, k, v, p }, attrs);
        return {
          q: () => dq,
          k: () => dk,
          v: () => dv,
          mask: () => tf.zerosLike(mask), // masks are constants; never on a gradient path in practice
        };
      },
    },
  ],
};

/** Whether the active backend is wasm with the SIMD gemm (where the weight products take it). */
const gemmHere = () =>
  tf.getBackend() === 'wasm' && wasmGemm(tf.backend() as unknown as WasmHeapBackend) !== null;

/**
 * Whether `causalAttention` runs here: the wasm backend with the SIMD gemm (not tfjs's multi-threaded build, whose
 * memory the gemm does not take yet), and at least GEMM_MIN_ROWS query rows per kv head (fewer, as in decoding,
 * stay on the tf ops).
 */
export function causalAttentionRuns(queryRows: number): boolean {
  return queryRows >= GEMM_MIN_ROWS && gemmHere();
}

/** The composed reference: softmax(q·kᵀ + mask)·v in tf ops, the same operands and result as `causalAttention`. */
export function causalAttentionComposed(
  q: tf.Tensor3D,
  k: tf.Tensor3D,
  v: tf.Tensor3D,
  mask: tf.Tensor2D | tf.Tensor3D,
  { nh, B }: Attrs,
): tf.Tensor3D {
  const { E, GT, S, T } = dims(q, k, { nh, B });
  const scores = tf.reshape(tf.matMul(q, k, false, true), [B, nh, T, S]) as tf.Tensor4D; // (B, nh, T, S)
  return tf.matMul(tf.reshape(maskedSoftmaxComposed(scores, mask), [E, GT, S]), v); // (E, GT, hs)
}

/**
 * softmax(q·kᵀ + mask)·v with the causal mask's work skipped (file header): q (B·nkv, group·T, hs), k and v
 * (B·nkv, S, hs), mask (T, S) or (B, T, S) hiding at least every key after each query; `nh` query heads, batch B.
 * Only where `causalAttentionRuns`.
 */
export function causalAttention(
  q: tf.Tensor3D,
  k: tf.Tensor3D,
  v: tf.Tensor3D,
  mask: tf.Tensor2D | tf.Tensor3D,
  { nh, B }: Attrs,
): tf.Tensor3D {
  const attrs: Attrs = { nh, B };
  const { E, hs, S, group, T } = dims(q, k, attrs);
  if (
    !Number.isInteger(group) ||
    !Number.isInteger(T) ||
    !tf.util.arraysEqual(k.shape, [E, S, hs]) ||
    !tf.util.arraysEqual(v.shape, k.shape) ||
    S < T
  )
    throw new Error(
      `causalAttention: q [${q.shape}], k [${k.shape}], v [${v.shape}] with ${nh} heads and batch ${B}: expected ` +
        'q (B·nkv, group·T, hs), k and v (B·nkv, S, hs), S ≥ T',
    );
  if (!gemmHere())
    throw new Error(
      `causalAttention: runs on the wasm backend with WebAssembly SIMD, not on ${tf.getBackend()} (see causalAttentionRuns)`,
    );
  const [y] = runKernel<tf.Tensor[]>(CAUSAL_ATTENTION, { q, k, v, mask }, attrs);
  return y as tf.Tensor3D;
}
