// The wasm BatchMatMul, replaced. tfjs-backend-wasm 4.22 sends every BatchMatMul with a batch dimension > 1 (or a
// transpose flag) to a scalar triple loop (`slow_batch_matmul` in batch_mat_mul_impl.cc); only batch-1,
// untransposed products reach XNNPACK, which keeps a packed copy of every right-hand side it has seen. Attention is
// made of batched products ([B·H, T, hs]·[B·H, hs, S]) and the adapters of small ones, so on wasm they ran far below
// the matmul rate. This kernel takes, in this order:
//   - float32 products with at least GEMM_MIN_ROWS rows and no transposeA: the SIMD gemm (weight-matmul.ts,
//     simd/gemm.wat), one call per batch entry, transposeB read in place, nothing cached;
//   - other batched untransposed products: one XNNPACK product per batch entry, on views of the operands registered
//     in place on the wasm heap (no copies);
//   - the rest (batch 1 with few rows, transposeA): the original kernel.
// When only `a` has a batch (and b is not transposed, for XNNPACK), the batch folds into the rows of one product.
import * as tf from '@tensorflow/tfjs';
import { GEMM_MIN_ROWS } from '../simd/instance.js';
import type { WasmOverride } from './types.js';
import { heapOffset, type WasmHeapBackend, wasmGemm } from './weight-matmul.js';

/** The parts of tfjs-backend-wasm's BackendWasm (src/backend_wasm.ts) this kernel uses. */
interface WasmBackend {
  wasm: {
    cwrap(name: string, ret: null, args: string[]): (...args: unknown[]) => void;
    _register_tensor(id: number, size: number, memoryOffset: number): void;
    _dispose_data(id: number): void;
  };
  dataIdMap: { get(dataId: object): { id: number; memoryOffset: number } };
  dataIdNextNumber: number;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
}

type MatMul = (
  aId: number,
  aShape: Uint8Array,
  aRank: number,
  bId: number,
  bShape: Uint8Array,
  bRank: number,
  ta: boolean,
  tb: boolean,
  outId: number,
) => void;

let original: tf.KernelConfig | undefined;
let matmul: MatMul | undefined;
const shapeBytes = (shape: number[]) => new Uint8Array(new Int32Array(shape).buffer);

/**
 * The 2-D products of a batched (M × K)·(K × N): float offsets into a, b and the output, and the rows of each. When
 * b has no batch, one product over all of a's rows (the batch folds into them); else one per batch entry, a
 * broadcast when it has no batch.
 */
function products(batchA: number, batchB: number, M: number, K: number, N: number) {
  if (batchB === 1) return [{ a: 0, b: 0, out: 0, rows: Math.max(batchA, 1) * M }];
  return Array.from({ length: batchB }, (_, i) => ({
    a: batchA === 1 ? 0 : i * M * K,
    b: i * K * N,
    out: i * M * N,
    rows: M,
  }));
}

function batchMatMul(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}): tf.TensorInfo {
  const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
  const { transposeA, transposeB } = (args.attrs ?? {}) as { transposeA?: boolean; transposeB?: boolean };
  const rb = b.shape.length;
  const batchA = tf.util.sizeFromShape(a.shape.slice(0, -2));
  const batchB = tf.util.sizeFromShape(b.shape.slice(0, -2));
  const fallback = () => (original!.kernelFunc as (x: typeof args) => tf.TensorInfo)(args);
  // only the simple broadcasts: equal batch shapes, or one side without a batch
  const same = batchA === batchB && a.shape.slice(0, -2).join() === b.shape.slice(0, -2).join();
  if (transposeA || a.dtype !== 'float32' || b.dtype !== 'float32' || (!same && batchA !== 1 && batchB !== 1))
    return fallback();
  const [M, K] = a.shape.slice(-2);
  const [N, Kb] = transposeB ? [b.shape[rb - 2], b.shape[rb - 1]] : [b.shape[rb - 1], b.shape[rb - 2]];
  if (K !== Kb) return fallback(); // the original kernel names the mismatch
  const backend = args.backend as WasmBackend & WasmHeapBackend;
  const gemm = M >= GEMM_MIN_ROWS ? wasmGemm(backend) : null;
  if (!gemm && (transposeB || (batchA <= 1 && batchB <= 1))) return fallback();

  const outBatch = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const out = backend.makeOutput([...outBatch, M, N], 'float32'); // (...batch, M, N)
  if (gemm) {
    // the SIMD gemm, b read transposed in place when transposeB
    const [pa, pb, po] = [heapOffset(backend, a), heapOffset(backend, b), heapOffset(backend, out)];
    for (const p of products(batchA, batchB, M, K, N))
      gemm.k.gemm(
        pa + 4 * p.a,
        pb + 4 * p.b,
        po + 4 * p.out,
        p.rows,
        K,
        N,
        transposeB ? 1 : 0,
        0,
        gemm.scratch,
      );
    return out;
  }
  // XNNPACK, one product per entry on views of the operands registered in place on the heap
  matmul ??= backend.wasm.cwrap('BatchMatMul', null, [
    'number',
    'array',
    'number',
    'number',
    'array',
    'number',
    'number',
    'number',
    'number',
  ]) as MatMul;
  const aInfo = backend.dataIdMap.get(a.dataId);
  const bInfo = backend.dataIdMap.get(b.dataId);
  const oInfo = backend.dataIdMap.get(out.dataId);
  const view = (offset: number, size: number) => {
    const id = backend.dataIdNextNumber++;
    backend.wasm._register_tensor(id, size, offset);
    return id;
  };
  const bShape = shapeBytes([1, K, N]);
  for (const p of products(batchA, batchB, M, K, N)) {
    const aId = view(aInfo.memoryOffset + 4 * p.a, p.rows * K);
    // b itself when it has no batch (XNNPACK keeps its operator on b's id); else a view, whose disposal below also
    // frees the XNNPACK operator cached on it
    const bId = batchB === 1 ? bInfo.id : view(bInfo.memoryOffset + 4 * p.b, K * N);
    const oId = view(oInfo.memoryOffset + 4 * p.out, p.rows * N);
    matmul(aId, shapeBytes([1, p.rows, K]), 3, bId, bShape, 3, false, false, oId);
    backend.wasm._dispose_data(aId);
    if (bId !== bInfo.id) backend.wasm._dispose_data(bId);
    backend.wasm._dispose_data(oId);
  }
  return out;
}

/**
 * a·b (or a·bᵀ) through tfjs-backend-wasm's own BatchMatMul (XNNPACK for a 2-D untransposed product, its scalar loop
 * otherwise), bypassing this file's kernel: the reference the matmul benchmark compares the gemm with.
 */
export function originalBatchMatMul(a: tf.Tensor, b: tf.Tensor, transposeB = false): tf.Tensor {
  if (!original || tf.getBackend() !== 'wasm')
    throw new Error('originalBatchMatMul: runs on wasm, after selectBackend');
  const info = (original.kernelFunc as (x: object) => tf.TensorInfo)({
    inputs: { a, b },
    backend: tf.backend(),
    attrs: { transposeA: false, transposeB },
  });
  return tf.engine().makeTensorFromTensorInfo(info);
}

/** The wasm BatchMatMul replaced by the one above; the original keeps the cases it delegates. */
export const wasmBatchMatMul: WasmOverride = {
  kernelName: tf.BatchMatMul,
  kernelFunc: batchMatMul as unknown as tf.KernelFunc,
  keep: (k) => {
    original = k;
  },
};
