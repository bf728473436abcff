// Products with a weight matrix W (K, N) that the wasm backend keeps in one copy: x·W and y·Wᵀ. tfjs-backend-wasm's
// BatchMatMul caches, per right-hand tensor, an XNNPACK operator holding that tensor repacked into XNNPACK's own
// layout (batch_mat_mul_impl.cc): as large as the weight and alive as long as it. For a frozen base that was a second
// copy of every projection, and y·Wᵀ (the backward's dx) needed W transposed, kept per layer: a third and a fourth
// (docs/performance.md, "Real size"). Packing per product instead is slow through tfjs (it passes XNNPACK the
// weights in the layout it packs slowest). These kernels run both products in WebAssembly SIMD on W where it lies
// (backend/simd/gemm.wat packs one 256 × 8 panel at a time into a small scratch), near XNNPACK's rate with
// many rows. With few rows (decoding) x·W stays on XNNPACK's cached path, whose packing pays off there. Where
// WebAssembly has no SIMD, and on other backends (which keep no such copies), they are tf.matMul.
import * as tf from '@tensorflow/tfjs';
import {
  GEMM_MIN_ROWS,
  GEMM_SCRATCH_BYTES,
  type SimdKernels,
  simdKernels,
  type WasmMemory,
} from '../simd/instance.js';
import { KERNEL_BACKENDS } from './backends.js';
import { matMulGrads } from './batch-matmul-grad.js';
import { opKernelConfigs } from './js-kernel.js';
import { runKernel } from './run.js';
import type { KernelSet } from './types.js';

/** x (M, K) · W (K, N) → (M, N). */
export const WEIGHT_MATMUL = 'MoteWeightMatMul';
/** y (M, N) · Wᵀ, W (K, N) → (M, K). */
export const WEIGHT_MATMUL_T = 'MoteWeightMatMulT';

/** The parts of tfjs-backend-wasm's BackendWasm used here (not in its public typings). */
export interface WasmHeapBackend {
  wasm: { asm: { memory: WasmMemory }; _malloc(bytes: number): number };
  dataIdMap: { get(dataId: object): { memoryOffset: number } };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
}

const scratches = new WeakMap<WasmMemory, number>();

/** The SIMD gemm on `b`'s memory and its scratch area (allocated once per backend, never freed), or null without SIMD. */
export function wasmGemm(b: WasmHeapBackend): { k: SimdKernels; scratch: number } | null {
  const memory = b.wasm.asm.memory;
  const k = simdKernels(memory);
  if (!k) return null;
  let scratch = scratches.get(memory);
  if (scratch === undefined) scratches.set(memory, (scratch = b.wasm._malloc(GEMM_SCRATCH_BYTES) >>> 0));
  return { k, scratch };
}

/** Byte offset of a tensor's data in the wasm heap. */
export const heapOffset = (b: Pick<WasmHeapBackend, 'dataIdMap'>, t: tf.TensorInfo): number =>
  b.dataIdMap.get(t.dataId).memoryOffset >>> 0;

type KernelArgs = Parameters<tf.KernelFunc>[0];

function wasmWeightMatMul({ inputs, backend }: KernelArgs): tf.TensorInfo | tf.Tensor {
  const { x, w } = inputs as { x: tf.TensorInfo; w: tf.TensorInfo };
  const [M, K] = x.shape;
  const N = w.shape[1];
  const b = backend as unknown as WasmHeapBackend;
  const g = M >= GEMM_MIN_ROWS ? wasmGemm(b) : null;
  if (!g) return tf.matMul(x as tf.Tensor2D, w as tf.Tensor2D); // (M, N)
  const out = b.makeOutput([M, N], 'float32');
  g.k.gemm(heapOffset(b, x), heapOffset(b, w), heapOffset(b, out), M, K, N, 0, 0, g.scratch);
  return out;
}

function wasmWeightMatMulT({ inputs, backend }: KernelArgs): tf.TensorInfo | tf.Tensor {
  const { y, w } = inputs as { y: tf.TensorInfo; w: tf.TensorInfo };
  const [M, N] = y.shape;
  const K = w.shape[0];
  const b = backend as unknown as WasmHeapBackend;
  const g = wasmGemm(b);
  if (!g) return tf.matMul(y as tf.Tensor2D, tf.transpose(w as tf.Tensor2D)); // (M, N)·(N, K)
  const out = b.makeOutput([M, K], 'float32');
  g.k.gemm(heapOffset(b, y), heapOffset(b, w), heapOffset(b, out), M, N, K, 1, 0, g.scratch);
  return out;
}

const others = KERNEL_BACKENDS.filter((n) => n !== 'wasm');
const explicit = () => tf.getBackend() === 'wasm';

export const weightMatMulKernels: KernelSet = {
  kernels: [
    {
      kernelName: WEIGHT_MATMUL,
      backendName: 'wasm',
      kernelFunc: wasmWeightMatMul as unknown as tf.KernelFunc,
    },
    {
      kernelName: WEIGHT_MATMUL_T,
      backendName: 'wasm',
      kernelFunc: wasmWeightMatMulT as unknown as tf.KernelFunc,
    },
    ...opKernelConfigs(WEIGHT_MATMUL, ({ x, w }) => tf.matMul(x as tf.Tensor2D, w as tf.Tensor2D), others),
    ...opKernelConfigs(
      WEIGHT_MATMUL_T,
      ({ y, w }) => tf.matMul(y as tf.Tensor2D, w as tf.Tensor2D, false, true),
      others,
    ),
  ],
  gradients: [
    {
      kernelName: WEIGHT_MATMUL,
      inputsToSave: ['x', 'w'],
      gradFunc: (dy, [x, w]) => ({
        x: () => weightMatMulT(dy as tf.Tensor2D, w as tf.Tensor2D), // (M, N)·Wᵀ → (M, K)
        // a trainable weight (full fine-tuning): xᵀ·dy, (K, M)·(M, N)
        w: matMulGrads(dy as tf.Tensor, x, w, {
          transposeA: false,
          transposeB: false,
          explicitTranspose: explicit(),
        }).db,
      }),
    },
    {
      kernelName: WEIGHT_MATMUL_T,
      inputsToSave: ['y', 'w'],
      gradFunc: (dz, [y, w]) => ({
        y: () => weightMatMul(dz as tf.Tensor2D, w as tf.Tensor2D), // (M, K)·W → (M, N)
        // dzᵀ·y, (K, M)·(M, N)
        w: matMulGrads(dz as tf.Tensor, y, w, {
          transposeA: false,
          transposeB: true,
          explicitTranspose: explicit(),
        }).db,
      }),
    },
  ],
};

function check2d(op: string, a: tf.Tensor, w: tf.Tensor, inner: number, wInner: number): void {
  if (a.rank !== 2 || w.rank !== 2 || inner !== wInner)
    throw new Error(
      `${op}: expected 2-D operands with matching inner sizes, got [${a.shape}] and W [${w.shape}]`,
    );
}

/** x (M, K) · W (K, N) → (M, N), with W kept in one copy on wasm (see the file header). */
export function weightMatMul(x: tf.Tensor2D, w: tf.Tensor2D): tf.Tensor2D {
  check2d('weightMatMul', x, w, x.shape[1], w.shape[0]);
  return runKernel(WEIGHT_MATMUL, { x, w });
}

/** y (M, N) · Wᵀ → (M, K) for W (K, N), with no transposed copy of W on wasm (see the file header). */
export function weightMatMulT(y: tf.Tensor2D, w: tf.Tensor2D): tf.Tensor2D {
  check2d('weightMatMulT', y, w, y.shape[1], w.shape[1]);
  return runKernel(WEIGHT_MATMUL_T, { y, w });
}

/** A block of rows [v0, v0 + n) of a weight W (V, d): a vocabulary chunk of a tied embedding. */
export const ROWS_MATMUL = 'MoteRowsMatMul';

/** What `rowsMatMul` computes with the rows W[v0 … v0+n) =: R (n, d). */
interface RowsAttrs {
  v0: number;
  n: number;
  /** a (M, d) · Rᵀ → (M, n) (true), or a (M, n) · R → (M, d) (false). */
  transposed: boolean;
}

function wasmRowsMatMul({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo | tf.Tensor {
  const { a, w } = inputs as { a: tf.TensorInfo; w: tf.TensorInfo };
  const { v0, n, transposed } = attrs as unknown as RowsAttrs;
  const b = backend as unknown as WasmHeapBackend;
  const g = wasmGemm(b);
  if (!g) return rowsMatMulOps(a as tf.Tensor2D, w as tf.Tensor2D, v0, n, transposed);
  const [M, d] = [a.shape[0], w.shape[1]];
  const out = b.makeOutput([M, transposed ? n : d], 'float32');
  const rows = heapOffset(b, w) + v0 * d * 4;
  if (transposed) g.k.gemm(heapOffset(b, a), rows, heapOffset(b, out), M, d, n, 1, 0, g.scratch);
  else g.k.gemm(heapOffset(b, a), rows, heapOffset(b, out), M, n, d, 0, 0, g.scratch);
  return out;
}

function rowsMatMulOps(
  a: tf.Tensor2D,
  w: tf.Tensor2D,
  v0: number,
  n: number,
  transposed: boolean,
): tf.Tensor2D {
  return tf.tidy(() => {
    const rows = tf.slice(w, [v0, 0], [n, -1]) as tf.Tensor2D; // (n, d)
    return transposed ? tf.matMul(a, rows, false, true) : tf.matMul(a, rows); // (M, n) or (M, d)
  });
}

/** xᵀ·y with an explicit transpose on wasm (a transposed operand takes tfjs's slow loop there). */
const tMatMul = (x: tf.Tensor, y: tf.Tensor) =>
  explicit() ? tf.matMul(tf.transpose(x), y) : tf.matMul(x, y, true, false);

export const rowsMatMulKernels: KernelSet = {
  gradients: [
    {
      kernelName: ROWS_MATMUL,
      inputsToSave: ['a', 'w'],
      gradFunc: (dy, [a, w], attrs) => {
        const { v0, n, transposed } = attrs as unknown as RowsAttrs;
        const g = dy as tf.Tensor2D;
        /** The gradient of the rows block (n, d), placed in a (V, d) gradient of W. */
        const place = (block: tf.Tensor) =>
          v0 === 0 && n === w.shape[0]
            ? block
            : tf.pad(block, [
                [v0, w.shape[0] - v0 - n],
                [0, 0],
              ]);
        return {
          // logits = a·Rᵀ: da = g·R, dR = gᵀ·a; y = a·R: da = g·Rᵀ, dR = aᵀ·g
          a: () => rowsMatMul(g, w as tf.Tensor2D, v0, n, !transposed),
          w: () => place(transposed ? tMatMul(g, a) : tMatMul(a, g)),
        };
      },
    },
  ],
  kernels: [
    { kernelName: ROWS_MATMUL, backendName: 'wasm', kernelFunc: wasmRowsMatMul as unknown as tf.KernelFunc },
    ...opKernelConfigs(
      ROWS_MATMUL,
      ({ a, w }, attrs) => {
        const { v0, n, transposed } = attrs as RowsAttrs;
        return rowsMatMulOps(a as tf.Tensor2D, w as tf.Tensor2D, v0, n, transposed);
      },
      others,
    ),
  ],
};

/**
 * With R = W[v0 … v0+n) (n, d), the rows of W (V, d) read where they lie on wasm (no slice, no transpose):
 * a (M, d)·Rᵀ → (M, n) when `transposed`, else a (M, n)·R → (M, d). No gradient: for the bodies of fused ops.
 */
export function rowsMatMul(
  a: tf.Tensor2D,
  w: tf.Tensor2D,
  v0: number,
  n: number,
  transposed: boolean,
): tf.Tensor2D {
  const d = w.shape[1];
  if (a.rank !== 2 || w.rank !== 2 || v0 < 0 || v0 + n > w.shape[0] || a.shape[1] !== (transposed ? d : n))
    throw new Error(
      `rowsMatMul: a [${a.shape}] with rows [${v0}, ${v0 + n}) of W [${w.shape}] (transposed ${transposed})`,
    );
  return runKernel(ROWS_MATMUL, { a, w }, { v0, n, transposed });
}
