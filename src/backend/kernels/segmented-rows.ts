// Row movement for the segmented mixing (segmented-mix.ts): gather a segment's token rows, scatter segment outputs
// back. On wasm, tf's Slice copies its whole input per call and tfjs-backend-wasm 4.22's Gather runs element by
// element, so rows move by memcpy inside the wasm heap in small kernels of their own (allocate the output first:
// heap growth detaches earlier views). Other backends use tf ops with device index tensors (the plan's are built
// once per forward, so no host round trip per segment). Factor blocks move the same way: `stackBlocks` cuts,
// stacks and sums r-wide blocks of the adapter factors and of their gradients in one kernel call, where tf ops take
// a split, slices, concats and an addN (a fixed cost per layer and step whatever the batch).
import * as tf from '@tensorflow/tfjs';
import type { Segment, SegmentPlan } from '../../experts/kernels/plan.js';
import { backendMemory, simdKernels, simdSupported, type WasmMemory } from '../simd/instance.js';
import type { KernelSet } from './types.js';
import { consecutiveRuns, gatherRows } from './wasm-gather.js';

const GATHER_ROWS = 'MoteGatherRows';
const SCATTER_ROWS = 'MoteScatterRows';
const GATHER_COLS = 'MoteGatherCols';
const STACK_BLOCKS = 'MoteStackBlocks';

/** The parts of the wasm backend these kernels touch (not in tfjs's public typings). */
interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  dataIdMap: { get(id: unknown): { memoryOffset: number } };
  wasm: { HEAPU8: Uint8Array; asm?: { memory?: WasmMemory }; wasmMemory?: WasmMemory };
}

/** Float index of a tensor's first element in the heap. */
const at = (b: WasmBackendLike, t: tf.TensorInfo) => b.dataIdMap.get(t.dataId).memoryOffset >>> 2;

/** out[i] = x[rows[i]], copying runs of consecutive rows at once. */
function gatherKernel({ inputs, backend, attrs }: Parameters<tf.KernelFunc>[0]): tf.TensorInfo {
  const b = backend as WasmBackendLike;
  const x = inputs.x as tf.TensorInfo;
  const rows = (attrs as unknown as { rows: Int32Array }).rows;
  const C = x.shape[1];
  const out = b.makeOutput([rows.length, C], 'float32');
  gatherRows(new Float32Array(b.wasm.HEAPU8.buffer), at(b, x), C, rows, at(b, out));
  return out;
}

/** out[rowsₚ[i]] = partₚ[i] for every part p (rows disjoint); rows no part covers are zero. */
function scatterKernel({ inputs, backend, attrs }: Parameters<tf.KernelFunc>[0]): tf.TensorInfo {
  const b = backend as WasmBackendLike;
  const { rows, numRows } = attrs as unknown as { rows: Int32Array[]; numRows: number };
  const parts = rows.map((_, p) => inputs[`p${p}`] as tf.TensorInfo);
  const C = parts[0].shape[1];
  const out = b.makeOutput([numRows, C], 'float32');
  const heap = new Float32Array(b.wasm.HEAPU8.buffer);
  const dst = at(b, out);
  const covered = new Uint8Array(numRows);
  parts.forEach((part, p) => {
    const src = at(b, part);
    const r = rows[p];
    for (const [i, j] of consecutiveRuns(r)) {
      heap.copyWithin(dst + r[i] * C, src + i * C, src + j * C);
      covered.fill(1, r[i], r[j - 1] + 1);
    }
  });
  for (let t = 0; t < numRows; t++) if (!covered[t]) heap.fill(0, dst + t * C, dst + (t + 1) * C);
  return out;
}

/** out[:, i] = x[:, cols[i]] for x (R, C): per row of x, runs of consecutive columns copied at once. */
function gatherColsKernel({ inputs, backend, attrs }: Parameters<tf.KernelFunc>[0]): tf.TensorInfo {
  const b = backend as WasmBackendLike;
  const x = inputs.x as tf.TensorInfo;
  const cols = (attrs as unknown as { cols: Int32Array }).cols;
  const [R, C] = x.shape;
  const n = cols.length;
  const out = b.makeOutput([R, n], 'float32');
  const heap = new Float32Array(b.wasm.HEAPU8.buffer);
  const src = at(b, x);
  const dst = at(b, out);
  const runs = consecutiveRuns(cols);
  for (let r = 0; r < R; r++) {
    for (const [i, j] of runs) {
      const from = src + r * C + cols[i];
      heap.copyWithin(dst + r * n + i, from, from + j - i);
    }
  }
  return out;
}

/** One block of a `stackBlocks` output: the sum of its pieces, `size` rows or columns of input `input` from `start`. */
export interface Block {
  size: number;
  /** [input, start] pairs, summed in this order (none: zeros). */
  pieces: readonly (readonly [number, number])[];
}

/** Blocks stacked along `axis` (0: rows, 1: columns) of 2-D inputs; see `stackBlocks`. */
function stackBlocksKernel({ inputs, backend, attrs }: Parameters<tf.KernelFunc>[0]): tf.TensorInfo {
  const b = backend as WasmBackendLike;
  const { axis, blocks } = attrs as unknown as { axis: 0 | 1; blocks: Block[] };
  const xs = Object.keys(inputs).map((_, i) => inputs[`t${i}`] as tf.TensorInfo);
  const total = blocks.reduce((n, k) => n + k.size, 0);
  const across = xs[0].shape[1 - axis]; // the length every block shares: rows for axis 1, columns for axis 0
  const out = b.makeOutput(axis === 1 ? [across, total] : [total, across], 'float32');
  const heap = new Float32Array(b.wasm.HEAPU8.buffer);
  const dst = at(b, out);
  const src = xs.map((x) => at(b, x));
  // rows of `cols` floats, `rows` times, at strides in floats: copied (first piece) or added; SIMD where there is
  const simd = simdKernels(backendMemory(b.wasm));
  const move = (
    d: number,
    dStride: number,
    s0: number,
    sStride: number,
    rows: number,
    cols: number,
    add: boolean,
  ) => {
    if (simd) {
      simd.block(4 * d, dStride, 4 * s0, sStride, rows, cols, add ? 1 : 0);
      return;
    }
    for (let r = 0; r < rows; r++, d += dStride, s0 += sStride) {
      if (add) for (let i = 0; i < cols; i++) heap[d + i] += heap[s0 + i];
      else heap.copyWithin(d, s0, s0 + cols);
    }
  };
  let o = 0; // the block's first row or column in the output
  for (const { size, pieces } of blocks) {
    if (axis === 0) {
      // rows are contiguous: one run of size·across floats per piece
      const d = dst + o * across;
      const n = size * across;
      if (pieces.length === 0) heap.fill(0, d, d + n);
      pieces.forEach(([k, start], j) => {
        move(d, 0, src[k] + start * across, 0, 1, n, j > 0);
      });
    } else {
      // piece by piece, down the rows (the output's rows are `total` wide, the input's its own width)
      if (pieces.length === 0)
        for (let r = 0; r < across; r++) heap.fill(0, dst + r * total + o, dst + r * total + o + size);
      pieces.forEach(([k, start], j) => {
        move(dst + o, total, src[k] + start, xs[k].shape[1], across, size, j > 0);
      });
    }
    o += size;
  }
  return out;
}

/** The wasm kernels above (other backends move rows with tf ops). */
export const segmentedRowsKernels: KernelSet = {
  kernels: (
    [
      [GATHER_ROWS, gatherKernel],
      [SCATTER_ROWS, scatterKernel],
      [GATHER_COLS, gatherColsKernel],
      [STACK_BLOCKS, stackBlocksKernel],
    ] as const
  ).map(([kernelName, kernelFunc]) => ({ kernelName, backendName: 'wasm', kernelFunc })),
};

const onWasm = () => tf.getBackend() === 'wasm';

/** x[rows] (n, C) for host row indices; `devRows` (n,) int32 is used instead on device backends when given. */
export function gatherRowsAt(x: tf.Tensor2D, rows: Int32Array, devRows?: tf.Tensor1D): tf.Tensor2D {
  if (onWasm()) return tf.engine().runKernel(GATHER_ROWS, { x }, { rows } as unknown as tf.NamedAttrMap);
  return tf.gather(x, devRows ?? tf.tensor1d(rows, 'int32')) as tf.Tensor2D;
}

/** The rows of one segment of `plan`, (n, C). A fresh tensor (callers may dispose it). */
export function gatherSegment(x: tf.Tensor2D, seg: Segment, plan: SegmentPlan): tf.Tensor2D {
  const n = seg.rows.length;
  if (seg.first === 0 && n === x.shape[0]) return tf.clone(x);
  if (onWasm()) return gatherRowsAt(x, seg.rows);
  if (seg.first >= 0) return tf.slice(x, [seg.first, 0], [n, -1]);
  return gatherRowsAt(x, seg.rows, tf.slice(plan.rowsTensor(), [seg.offset], [n]));
}

/**
 * On wasm: blocks of the 2-D `inputs` stacked along `axis` (0: rows, 1: columns) in one kernel call, each block the
 * sum of its pieces (`size` rows or columns of one input from `start`; float32 adds in piece order) or zeros. Every
 * input has the same columns (axis 0) or rows (axis 1). Other backends do not call this (they keep tf ops).
 */
export function stackBlocks(inputs: tf.Tensor2D[], axis: 0 | 1, blocks: Block[]): tf.Tensor2D {
  const named = Object.fromEntries(inputs.map((t, i) => [`t${i}`, t]));
  return tf.engine().runKernel(STACK_BLOCKS, named, { axis, blocks } as unknown as tf.NamedAttrMap);
}

/**
 * Transposes of the tensors whose rows the backward contracts over (a layer's input, its output gradient), keyed
 * by data: q, k and v share one input, so its transpose is made once per backward. A cached transpose belongs to
 * the scope that made it (the backward) and is remade once that scope has disposed it.
 */
const transposes = new WeakMap<object, tf.Tensor2D>();

function transposedOf(x: tf.Tensor2D): tf.Tensor2D {
  let t = transposes.get(x.dataId);
  if (!t || t.isDisposed) transposes.set(x.dataId, (t = tf.transpose(x))); // (C, N)
  return t;
}

/**
 * A segment's rows, transposed: (C, n). For the backward's products over tokens (x̃_Rᵀ·dH, dy_Rᵀ·G) on wasm,
 * where XNNPACK would otherwise pack the tall (n, C) operand anew on every call, which costs more than
 * transposing it. With the SIMD Transpose (backend/simd) the segment's rows are gathered (runs of rows, one copy
 * each) and transposed, faster than the fallback, in which the whole tensor is transposed once and each segment
 * takes its columns (a copy per row and run). Other backends contract with the transpose flags instead and do not
 * call this.
 */
export function gatherSegmentT(x: tf.Tensor2D, seg: Segment): tf.Tensor2D {
  const whole = seg.first === 0 && seg.rows.length === x.shape[0];
  if (simdSupported() && !whole) return tf.tidy(() => tf.transpose(gatherRowsAt(x, seg.rows))); // (C, n)
  const xT = transposedOf(x); // (C, N)
  if (whole) return tf.clone(xT);
  return tf.engine().runKernel(GATHER_COLS, { x: xT }, { cols: seg.rows } as unknown as tf.NamedAttrMap);
}

/**
 * (numRows, C): part p written at rows `rows[p]` (disjoint), zeros elsewhere. `devInverse` (numRows,) int32
 * (position of each row in the concatenated parts, or their total for none) is used on device backends.
 */
export function scatterRowsAt(
  parts: tf.Tensor2D[],
  rows: Int32Array[],
  numRows: number,
  devInverse?: tf.Tensor1D,
): tf.Tensor2D {
  if (onWasm()) {
    const inputs = Object.fromEntries(parts.map((p, i) => [`p${i}`, p]));
    return tf.engine().runKernel(SCATTER_ROWS, inputs, { rows, numRows } as unknown as tf.NamedAttrMap);
  }
  let inverse = devInverse;
  if (!inverse) {
    const inv = new Int32Array(numRows).fill(rows.reduce((n, r) => n + r.length, 0));
    let pos = 0;
    for (const r of rows) for (const t of r) inv[t] = pos++;
    inverse = tf.tensor1d(inv, 'int32');
  }
  const C = parts[0].shape[1];
  return tf.gather(tf.concat([...parts, tf.zeros([1, C])], 0), inverse) as tf.Tensor2D;
}

/** Scatters the outputs of one pass's segments to token order, (N, C). */
export function scatterSegments(parts: tf.Tensor2D[], segs: Segment[], plan: SegmentPlan): tf.Tensor2D {
  const N = plan.numTokens;
  if (segs.length === 1 && segs[0].first === 0 && segs[0].rows.length === N) return parts[0];
  if (onWasm())
    return scatterRowsAt(
      parts,
      segs.map((s) => s.rows),
      N,
    );
  const pass = segs[0].pass;
  const inverse = tf.reshape(tf.slice(plan.inverseTensor(), [pass, 0], [1, N]), [N]) as tf.Tensor1D;
  return scatterRowsAt(parts, [], N, inverse);
}
