// Concat on the wasm backend without a typed-array view per row. tfjs-backend-wasm 4.22 concatenates in
// JavaScript with a `subarray` + `set` for every row of every input: joining the MoTE factors [A_sh | A_e]
// column-wise makes one view per row of each, a fixed cost per training step whatever the batch size, which each
// data-parallel shard pays again. This kernel copies 4-byte elements inside the heap, runs of fewer than 64 by a
// loop over an Int32Array view (bit-exact for float32 too) and longer runs by `copyWithin`; other dtypes go to the
// original kernel.
import * as tf from '@tensorflow/tfjs';
import type { WasmOverride } from './types.js';

interface WasmBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  dataIdMap: { get(dataId: object): { memoryOffset: number } };
  wasm: { HEAPU8: Uint8Array };
}

/** Below this many elements a row is copied by a loop; at or above it by `copyWithin`. */
const LOOP_MAX = 64;
let original: tf.KernelConfig | undefined;

/**
 * out[b, ·] = x₀[b, ·] ‖ x₁[b, ·] ‖ … for inputs viewed as (batch, innerᵢ) at element offsets `src` in `heap`,
 * written at element offset `dst`.
 */
export function concatRows(
  heap: Int32Array,
  src: readonly number[],
  inner: readonly number[],
  batch: number,
  dst: number,
): void {
  let o = dst;
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < src.length; i++) {
      const n = inner[i];
      const s = src[i] + b * n;
      if (n < LOOP_MAX) for (let k = 0; k < n; k++) heap[o + k] = heap[s + k];
      else heap.copyWithin(o, s, s + n);
      o += n;
    }
  }
}

function concat(args: { inputs: tf.TensorInfo[]; backend: unknown; attrs: tf.NamedAttrMap }): tf.TensorInfo {
  const inputs = args.inputs;
  const dtype = inputs[0]?.dtype;
  const nonEmpty = inputs.filter((t) => tf.util.sizeFromShape(t.shape) > 0);
  if ((dtype !== 'float32' && dtype !== 'int32') || nonEmpty.length < 2)
    return (original!.kernelFunc as unknown as (a: typeof args) => tf.TensorInfo)(args);
  const shapes = inputs.map((t) => t.shape);
  const axis = tf.util.parseAxisParam(args.attrs.axis as number, shapes[0])[0];
  tf.backend_util.assertParamsConsistent(shapes, axis);
  const backend = args.backend as WasmBackend;
  const out = backend.makeOutput(tf.backend_util.computeOutShape(shapes, axis), dtype); // before the view
  const heap = new Int32Array(backend.wasm.HEAPU8.buffer);
  const at = (t: tf.TensorInfo) => backend.dataIdMap.get(t.dataId).memoryOffset >>> 2;
  concatRows(
    heap,
    nonEmpty.map(at),
    nonEmpty.map((t) => tf.util.sizeFromShape(t.shape.slice(axis))), // (batch, innerᵢ) views
    tf.util.sizeFromShape(shapes[0].slice(0, axis)),
    at(out),
  );
  return out;
}

/** The wasm Concat replaced by the one above; the original keeps other dtypes and fewer than two non-empty inputs. */
export const wasmConcat: WasmOverride = {
  kernelName: tf.Concat,
  kernelFunc: concat as unknown as tf.KernelFunc,
  keep: (k) => {
    original = k;
  },
};
