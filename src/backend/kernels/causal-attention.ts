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
import { GEMM_MIN_ROWS, type SimdKernels } from '../simd/instance.js';
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

/** The shapes of one call: batch entries (B·nkv), query rows per entry (group·T), T, S, hs, heads per kv head. */
function dims(q: tf.TensorInfo, k: tf.TensorInfo, at: Attrs) {
  const [E, GT, hs] = q.shape;
  const S = k.shape[1];
  const group = at.nh / (E / at.B);
  return { E, GT, hs, S, group, T: GT / group };
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

/**
 * C_e = A_e · B_e (or B_eᵀ) for each batch entry e, `mode` as gemm_causal's; byte strides per entry. With `blocks`,
 * each entry's A and B split into `blocks` consecutive blocks (A's of aBlock bytes, B's of bBlock), their products
 * summed into C_e: Σ_g A_{e,g}·B_{e,g}.
 */
function batched(
  k: SimdKernels,
  scratch: number,
  [a, b, c]: [number, number, number],
  [aStride, bStride, cStride]: [number, number, number],
  [M, K, N]: [number, number, number],
  entries: number,
  { bt = 0, mode = ALL, T = 1, off = 0, blocks = 1, aBlock = 0, bBlock = 0 } = {},
): void {
  for (let e = 0; e < entries; e++)
    for (let g = 0; g < blocks; g++)
      k.gemm_causal(
        a + e * aStride + g * aBlock,
        b + e * bStride + g * bBlock,
        c + e * cStride,
        M,
        K,
        N,
        bt,
        g > 0 ? 1 : 0,
        scratch,
        mode,
        T,
        off,
      );
}

type KernelArgs = Parameters<tf.KernelFunc>[0];

function forward({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo[] {
  const { q, k, v, mask } = inputs as Record<string, tf.TensorInfo>;
  const at = attrs as unknown as Attrs;
  const { E, GT, hs, S, T } = dims(q, k, at);
  const h = heap(backend);
  const off = S - T;
  const f = 4; // bytes a float
  // scores (E, GT, S): only each query's visible keys are computed
  const scores = h.out([E, GT, S]);
  batched(
    h.k,
    h.scratch,
    [h.at(q), h.at(k), h.at(scores)],
    [GT * hs * f, S * hs * f, GT * S * f],
    [GT, hs, S],
    E,
    {
      bt: 1,
      mode: COLUMNS_TO_QUERY,
      T,
      off,
    },
  );
  const p = h.out([E, GT, S]); // ≡ (B, nh, T, S) for the mask's rows
  const perBatch = mask.shape.length === 3 ? 1 : 0;
  h.k.masked_softmax(h.at(p), h.at(scores), h.at(mask), at.B, at.nh, T, S, perBatch, 1);
  h.free(scores);
  const y = h.out([E, GT, hs]);
  batched(
    h.k,
    h.scratch,
    [h.at(p), h.at(v), h.at(y)],
    [GT * S * f, S * hs * f, GT * hs * f],
    [GT, S, hs],
    E,
    {
      mode: SUM_TO_QUERY,
      T,
      off,
    },
  );
  return [y, p];
}

function backward({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo[] {
  const { dy, q, k, v, p } = inputs as Record<string, tf.TensorInfo>;
  const at = attrs as unknown as Attrs;
  const { E, GT, hs, S, T, group } = dims(q, k, at);
  const h = heap(backend);
  const off = S - T;
  const f = 4;
  const [rowsQ, rowsK, rowsP] = [GT * hs * f, S * hs * f, GT * S * f]; // bytes per entry
  // dp = dy·vᵀ, for the visible keys only; ds = p ⊙ (dp − ⟨p, dp⟩), 0 past each query
  const dp = h.out([E, GT, S]);
  batched(h.k, h.scratch, [h.at(dy), h.at(v), h.at(dp)], [rowsQ, rowsK, rowsP], [GT, hs, S], E, {
    bt: 1,
    mode: COLUMNS_TO_QUERY,
    T,
    off,
  });
  const ds = h.out([E, GT, S]);
  h.k.softmax_grad(h.at(ds), h.at(dp), h.at(p), E * GT, S, T, 1);
  h.free(dp);
  // dq = ds·k
  const dq = h.out([E, GT, hs]);
  batched(h.k, h.scratch, [h.at(ds), h.at(k), h.at(dq)], [rowsP, rowsK, rowsQ], [GT, S, hs], E, {
    mode: SUM_TO_QUERY,
    T,
    off,
  });
  // dk = Σ_g ds_gᵀ·q_g and dv = Σ_g p_gᵀ·dy_g, over transposed (S, T) blocks: key j sums queries t ≥ j − off
  const sumOverQueries = (x: tf.TensorInfo, y: tf.TensorInfo): tf.TensorInfo => {
    const xT = h.out([E * group, S, T]); // (E·group, T, S) → (E·group, S, T)
    h.k.transpose(h.at(x), h.at(xT), E * group, T, S);
    const out = h.out([E, S, hs]);
    batched(h.k, h.scratch, [h.at(xT), h.at(y), h.at(out)], [rowsP, rowsQ, rowsK], [S, T, hs], E, {
      mode: SUM_FROM_KEY,
      T: S, // rows are keys, one block of S per product
      off,
      blocks: group,
      aBlock: S * T * f,
      bBlock: T * hs * f,
    });
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
  const [E, GT, hs] = q.shape;
  const [, S] = k.shape;
  const group = nh / (E / B);
  const T = GT / group;
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
  const attrs: Attrs = { nh, B };
  const [y] = runKernel<tf.Tensor[]>(CAUSAL_ATTENTION, { q, k, v, mask }, attrs);
  return y as tf.Tensor3D;
}
