// UnsortedSegmentSum for the wasm backend, which has none in tfjs 4.22 (tfjs issue #8082): without it the
// gradient of tf.gather fails on wasm, so embeddings cannot train. Plain JS over the wasm heap.
import * as tf from '@tensorflow/tfjs';

/** The slice of tfjs-backend-wasm's BackendWasm (src/backend_wasm.ts) this kernel uses. */
interface WasmHeapBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

/**
 * Kernel config for `tf.registerKernel`: out[s, …] = Σ x[i, …] over rows i with segmentIds[i] = s.
 * segmentIds' shape is a prefix of x's; ids outside [0, numSegments) are dropped. Rows are summed in
 * index order in float64 and rounded once, as the cpu backend does, so float32 results are bit-identical to
 * it for finite inputs. (The cpu backend multiplies every row by a 0/1 mask, so one Inf or NaN anywhere
 * poisons all its segments; here it stays in its own segment, as in TensorFlow.)
 */
export const unsortedSegmentSumWasmConfig: tf.KernelConfig = {
  kernelName: tf.UnsortedSegmentSum,
  backendName: 'wasm',
  kernelFunc: ({ inputs, backend, attrs }) => {
    const { x, segmentIds } = inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
    const numSegments = attrs?.numSegments as number;
    checkInputs(x, segmentIds, numSegments);
    const heap = backend as WasmHeapBackend;
    const sliceShape = x.shape.slice(segmentIds.shape.length);
    // Allocate the output before taking any heap view: malloc may grow the heap, detaching earlier views.
    const out = heap.makeOutput([numSegments, ...sliceShape], x.dtype);
    const xs = heap.typedArrayFromHeap(x);
    const ids = heap.typedArrayFromHeap(segmentIds) as Int32Array;
    const ys = heap.typedArrayFromHeap(out);
    sumSegments(xs, ids, numSegments, tf.util.sizeFromShape(sliceShape), ys);
    return out;
  },
};

/**
 * ys[s·inner + j] = Σ xs[i·inner + j] over i with ids[i] = s (ascending i, float64 accumulator); every
 * element of ys is written, empty segments with 0. Pure: the unit of the kernel above.
 */
export function sumSegments(
  xs: ArrayLike<number>,
  ids: ArrayLike<number>,
  numSegments: number,
  inner: number,
  ys: { [i: number]: number; length: number },
): void {
  const rowsBySegment = groupRows(ids, numSegments);
  const acc = new Float64Array(inner);
  for (let s = 0; s < numSegments; s++) {
    acc.fill(0);
    for (let r = rowsBySegment.start[s]; r < rowsBySegment.start[s + 1]; r++) {
      const offset = rowsBySegment.rows[r] * inner;
      for (let j = 0; j < inner; j++) acc[j] += xs[offset + j];
    }
    for (let j = 0; j < inner; j++) ys[s * inner + j] = acc[j];
  }
}

/** Counting sort of row indices by segment id (stable): rows of segment s are rows[start[s] … start[s+1]). */
function groupRows(ids: ArrayLike<number>, numSegments: number): { rows: Int32Array; start: Int32Array } {
  const start = new Int32Array(numSegments + 1);
  for (let i = 0; i < ids.length; i++) if (ids[i] >= 0 && ids[i] < numSegments) start[ids[i] + 1]++;
  for (let s = 0; s < numSegments; s++) start[s + 1] += start[s];
  const next = start.slice(0, numSegments);
  const rows = new Int32Array(start[numSegments]);
  for (let i = 0; i < ids.length; i++) if (ids[i] >= 0 && ids[i] < numSegments) rows[next[ids[i]]++] = i;
  return { rows, start };
}

/** Rejects what the kernel cannot do, naming the value received. */
function checkInputs(x: tf.TensorInfo, segmentIds: tf.TensorInfo, numSegments: number): void {
  const fail = (what: string) => {
    throw new Error(`UnsortedSegmentSum (wasm shim): ${what}`);
  };
  if (x.dtype !== 'float32' && x.dtype !== 'int32')
    fail(`x dtype is '${x.dtype}'; expected 'float32' or 'int32'`);
  if (segmentIds.dtype !== 'int32') fail(`segmentIds dtype is '${segmentIds.dtype}'; expected 'int32'`);
  if (!Number.isInteger(numSegments) || numSegments < 0)
    fail(`numSegments is ${numSegments}; expected an integer >= 0`);
  const prefix = x.shape.slice(0, segmentIds.shape.length);
  if (segmentIds.shape.some((d, i) => d !== prefix[i])) {
    fail(`segmentIds shape [${segmentIds.shape}] is not a prefix of x shape [${x.shape}]`);
  }
}
