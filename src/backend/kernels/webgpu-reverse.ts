// Reverse on the webgpu backend for tensors of rank > 4. tfjs-backend-webgpu 4.22 pads every shape to rank 4 by
// writing shape[i] at index i + 4 − rank, so for rank 5 the first axis goes to index −1 and is dropped: the kernel
// throws ("Size(48) must match the product of shape 3,2,2,2") whenever that axis is longer than 1 (the composed RoPE
// reverses a (B, T, H, hs/2, 2) tensor: any batch of two or more). Reversing a run of adjacent axes equals reversing
// their flattened product, so runs of reversed and of kept axes are merged until the rank is 4 or less; when the
// pattern alternates too often for that, the axes are reversed one at a time (each call then has rank 3).
import type * as tf from '@tensorflow/tfjs';
import type { KernelOverride } from './types.js';

interface WebgpuBackend {
  disposeData(dataId: object): void;
}

let original: tf.KernelConfig | undefined;

/** [merged shape, merged axes to reverse] of `shape` with `axes` reversed: adjacent axes of equal kind merged. */
export function mergeReverseAxes(shape: readonly number[], axes: readonly number[]): [number[], number[]] {
  const merged: number[] = [];
  const mergedAxes: number[] = [];
  let last: boolean | null = null;
  shape.forEach((d, i) => {
    const reversed = axes.includes(i);
    if (reversed === last) merged[merged.length - 1] *= d;
    else {
      merged.push(d);
      if (reversed) mergedAxes.push(merged.length - 1);
    }
    last = reversed;
  });
  return [merged, mergedAxes];
}

type Args = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs: { dims: number | number[] } };

/** The original kernel on a view of x with `shape` (same data), reversing `axes`. */
function reverseView(args: Args, x: tf.TensorInfo, shape: number[], axes: number[]): tf.TensorInfo {
  const view = { dataId: x.dataId, shape, dtype: x.dtype };
  const out = (original!.kernelFunc as (a: Args) => tf.TensorInfo)({
    ...args,
    inputs: { x: view },
    attrs: { dims: axes },
  });
  return { dataId: out.dataId, shape: x.shape, dtype: out.dtype };
}

function reverse(args: Args): tf.TensorInfo {
  const x = args.inputs.x as tf.TensorInfo;
  const rank = x.shape.length;
  if (rank <= 4) return (original!.kernelFunc as (a: Args) => tf.TensorInfo)(args);
  const dims = args.attrs.dims;
  const axes = (Array.isArray(dims) ? dims : [dims]).map((a) => (a < 0 ? a + rank : a));
  const [shape, merged] = mergeReverseAxes(x.shape, axes);
  if (shape.length <= 4) return reverseView(args, x, shape, merged);
  // one axis at a time: (before, axis, after), each step's input freed once the next has read it
  let current = x;
  for (const a of [...new Set(axes)].sort((p, q) => p - q)) {
    const before = x.shape.slice(0, a).reduce((n, d) => n * d, 1);
    const after = x.shape.slice(a + 1).reduce((n, d) => n * d, 1);
    const next = reverseView(args, current, [before, x.shape[a], after], [1]);
    if (current !== x) (args.backend as WebgpuBackend).disposeData(current.dataId);
    current = next;
  }
  return current;
}

/** The webgpu Reverse with the rank > 4 cases handled as above; rank ≤ 4 keeps the original. */
export const webgpuReverse: KernelOverride = {
  kernelName: 'Reverse',
  kernelFunc: reverse as unknown as tf.KernelFunc,
  keep: (k) => {
    original = k;
  },
};
