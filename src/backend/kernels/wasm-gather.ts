// Gather along the first axis on the wasm backend by row copies inside the heap. tfjs-backend-wasm 4.22 gathers
// element by element, with index arithmetic for every element (Gather.cc), so a training step's embedding lookup
// cost as much as a layer's attention softmax. Along axis 0 each index picks one contiguous row, so this kernel
// copies rows (`copyWithin`, a run of
// consecutive indices at once) after checking every index, as the cpu backend does. Other axes, batch dims, and
// dtypes other than float32 and int32 go to the original kernel. The gradient (tfjs's, by UnsortedSegmentSum) is
// unchanged: it belongs to the op, not to the kernel.
import * as tf from '@tensorflow/tfjs';
import type { WasmOverride } from './types.js';

interface WasmBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  dataIdMap: { get(dataId: object): { memoryOffset: number } };
  wasm: { HEAPU8: Uint8Array };
}

let original: tf.KernelConfig | undefined;

/** The [i, j) spans of positions over which idx[i…j) are consecutive integers, in order: each one copy. */
export function consecutiveRuns(idx: ArrayLike<number>): [number, number][] {
  const runs: [number, number][] = [];
  for (let i = 0; i < idx.length; ) {
    let j = i + 1;
    while (j < idx.length && idx[j] === idx[j - 1] + 1) j++;
    runs.push([i, j]);
    i = j;
  }
  return runs;
}

/**
 * out[i, ·] = x[idx[i], ·] for x viewed as (rows, inner) at element offset `src` of `heap`, written at element
 * offset `dst`; runs of consecutive indices are copied at once. The indices must be in [0, rows). Also the
 * segmented mixing's row gather (segmented-rows.ts).
 */
export function gatherRows(
  heap: Int32Array | Float32Array,
  src: number,
  inner: number,
  idx: Int32Array,
  dst: number,
): void {
  for (const [i, j] of consecutiveRuns(idx))
    heap.copyWithin(dst + i * inner, src + idx[i] * inner, src + (idx[j - 1] + 1) * inner);
}

function gatherV2(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs: tf.NamedAttrMap;
}): tf.TensorInfo {
  const { x, indices } = args.inputs as { x: tf.TensorInfo; indices: tf.TensorInfo };
  const { axis, batchDims } = args.attrs as { axis: number; batchDims?: number };
  const fallback = () => (original!.kernelFunc as unknown as (a: typeof args) => tf.TensorInfo)(args);
  if (x.shape.length === 0 || (x.dtype !== 'float32' && x.dtype !== 'int32') || indices.dtype !== 'int32')
    return fallback();
  if (tf.util.parseAxisParam(axis, x.shape)[0] !== 0 || (batchDims ?? 0) !== 0) return fallback();
  const backend = args.backend as WasmBackend;
  const at = (t: tf.TensorInfo) => backend.dataIdMap.get(t.dataId).memoryOffset >>> 2;
  const view = (t: tf.TensorInfo) =>
    new Int32Array(backend.wasm.HEAPU8.buffer, 4 * at(t), tf.util.sizeFromShape(t.shape));
  const rows = x.shape[0];
  for (const i of view(indices)) {
    if (!(i >= 0 && i < rows)) throw new Error(`GatherV2: the index value ${i} is not in [0, ${rows - 1}]`);
  }
  const out = backend.makeOutput([...indices.shape, ...x.shape.slice(1)], x.dtype); // may grow the heap: views after
  const heap = new Int32Array(backend.wasm.HEAPU8.buffer); // 4-byte elements: bit-exact for float32 too
  gatherRows(heap, at(x), tf.util.sizeFromShape(x.shape.slice(1)), view(indices), at(out));
  return out;
}

/** The wasm GatherV2 replaced by the row copies above; the original keeps the cases they do not handle. */
export const wasmGather: WasmOverride = {
  kernelName: tf.GatherV2,
  kernelFunc: gatherV2 as unknown as tf.KernelFunc,
  keep: (k) => {
    original = k;
  },
};
