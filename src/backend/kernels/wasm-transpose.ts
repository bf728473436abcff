// Transposes on the wasm backend. tfjs-backend-wasm 4.22's Transpose walks the output with a generic strided
// index per element; on this backend's training step it was the largest cost after the matmuls (the segmented
// kernel's backward transposes each layer's input and output gradient, attention its heads). This kernel handles
// every permutation that swaps two adjacent axes (perm [0 … p−1, p+1, p, p+2 …]: 2-D transposes, [0, 2, 1]
// batches, attention's [0, 2, 1, 3]) of float32 tensors, as `outer` independent (R × C) transposes of
// `inner`-float elements, in WebAssembly SIMD on the backend's own memory (backend/simd/transpose.wat); where
// WebAssembly has no SIMD, in blocked JavaScript (blocks of 16 × 16 keep both the rows read and the rows written
// in cache). Anything else goes to the original kernel.
import * as tf from '@tensorflow/tfjs';
import { backendMemory, simdKernels, type WasmMemory } from '../simd/instance.js';
import type { WasmOverride } from './types.js';

interface WasmBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array;
  dataIdMap: { get(dataId: object): { memoryOffset: number } };
  /** The module: its memory exported (asm.memory) or, in the multi-threaded build, kept as wasmMemory. */
  wasm: { asm?: { memory?: WasmMemory }; wasmMemory?: WasmMemory };
}

const BLOCK = 16;
let original: tf.KernelConfig | undefined;

/** The axis p when `perm` swaps axes p and p + 1 and keeps the others; −1 otherwise. */
export function adjacentSwap(perm: readonly number[]): number {
  let p = -1;
  for (let i = 0; i < perm.length; i++) {
    if (perm[i] === i) continue;
    if (p >= 0 || perm[i] !== i + 1 || perm[i + 1] !== i) return -1;
    p = i++;
  }
  return p;
}

/** y[o][c][r][·] = x[o][r][c][·] for `outer` blocks of (R × C) elements of `inner` floats. */
export function transposeBlocks(
  x: Float32Array,
  y: Float32Array,
  outer: number,
  R: number,
  C: number,
  inner: number,
): void {
  const size = R * C * inner;
  for (let o = 0; o < outer; o++) {
    const xo = o * size;
    if (inner === 1) {
      for (let c0 = 0; c0 < C; c0 += BLOCK) {
        const c1 = Math.min(C, c0 + BLOCK);
        for (let r0 = 0; r0 < R; r0 += BLOCK) {
          const r1 = Math.min(R, r0 + BLOCK);
          for (let c = c0; c < c1; c++) {
            const dst = xo + c * R;
            for (let r = r0; r < r1; r++) y[dst + r] = x[xo + r * C + c];
          }
        }
      }
    } else {
      for (let c = 0; c < C; c++)
        for (let r = 0; r < R; r++) {
          const src = xo + (r * C + c) * inner;
          y.set(x.subarray(src, src + inner), xo + (c * R + r) * inner);
        }
    }
  }
}

function transpose(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}): tf.TensorInfo {
  const x = args.inputs.x as tf.TensorInfo;
  const perm = (args.attrs as { perm: number[] }).perm;
  const p = adjacentSwap(perm);
  if (p < 0 || x.dtype !== 'float32')
    return (original!.kernelFunc as (a: typeof args) => tf.TensorInfo)(args);
  const backend = args.backend as WasmBackend;
  const shape = x.shape;
  const out = backend.makeOutput(
    perm.map((i) => shape[i]),
    'float32',
  ); // before any view: growing the heap detaches views
  const outer = tf.util.sizeFromShape(shape.slice(0, p));
  const inner = tf.util.sizeFromShape(shape.slice(p + 2));
  const simd = simdKernels(backendMemory(backend.wasm));
  if (simd) {
    const at = (t: tf.TensorInfo) => backend.dataIdMap.get(t.dataId).memoryOffset;
    if (inner === 1) simd.transpose(at(x), at(out), outer, shape[p], shape[p + 1]);
    else simd.transpose_runs(at(x), at(out), outer, shape[p], shape[p + 1], inner);
    return out;
  }
  transposeBlocks(
    backend.typedArrayFromHeap(x),
    backend.typedArrayFromHeap(out),
    outer,
    shape[p],
    shape[p + 1],
    inner,
  );
  return out;
}

/** The wasm Transpose replaced by the one above; the original keeps other permutations and dtypes. */
export const wasmTranspose: WasmOverride = {
  kernelName: tf.Transpose,
  kernelFunc: transpose as unknown as tf.KernelFunc,
  keep: (k) => {
    original = k;
  },
};
