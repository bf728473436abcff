// Kernels written in JavaScript over the tensors' own memory, registered for the wasm and cpu backends (whose
// tensors live in one process: wasm's heap, cpu's typed arrays). They read their inputs and write their outputs
// through views, with no copies, which lets a fused op make one pass where tf ops make five (src/model/fused/ holds
// the ops, this folder their kernels).
// On wasm the outputs are allocated first: growing the heap detaches every earlier view. A kernel may also have
// a WebAssembly SIMD body (backend/simd/*.wat) that wasm runs instead, on byte offsets; `compute` stays its reference
// and the cpu backend's (and wasm's where WebAssembly has no SIMD).
import * as tf from '@tensorflow/tfjs';
import { backendMemory, type SimdKernels, simdKernels, type WasmMemory } from '../simd/instance.js';
import { HOST_BACKENDS, type KernelBackend } from './backends.js';

type TypedArray = Float32Array | Int32Array;

/** The parts of the wasm and cpu backends used here (not in tfjs's public typings). */
interface WasmBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): TypedArray;
  dataIdMap: { get(dataId: object): { memoryOffset: number } };
  /** The module: its memory exported (asm.memory) or, in the multi-threaded build, kept as wasmMemory. */
  wasm: { asm?: { memory?: WasmMemory }; wasmMemory?: WasmMemory };
}
interface CpuBackend {
  data: { get(dataId: object): { values: TypedArray } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: TypedArray): tf.TensorInfo;
}

export interface JsKernel<A> {
  kernelName: string;
  /** Input names, in the order `compute` receives them. */
  inputs: readonly string[];
  /** Output shapes (float32) from the input shapes. */
  outputShapes(shapes: number[][], attrs: A): number[][];
  /** Writes every element of `out` from `inp` (views: read-only inputs, fresh outputs). */
  compute(inp: TypedArray[], out: Float32Array[], shapes: number[][], attrs: A): void;
  /** The same on wasm in SIMD: inputs and outputs as byte offsets into the backend's memory. */
  simd?(k: SimdKernels, inp: number[], out: number[], shapes: number[][], attrs: A): void;
}

/** The kernel configs of `k` for wasm and cpu. A single output is returned as a tensor, several as a list. */
export function jsKernelConfigs<A>(k: JsKernel<A>): tf.KernelConfig[] {
  return HOST_BACKENDS.map((backendName) => ({
    kernelName: k.kernelName,
    backendName,
    kernelFunc: ({ inputs, backend, attrs }) => {
      const ins = k.inputs.map((n) => inputs[n] as tf.TensorInfo);
      const shapes = ins.map((t) => t.shape);
      const outShapes = k.outputShapes(shapes, attrs as unknown as A);
      let outs: tf.TensorInfo[];
      if (backendName === 'wasm') {
        const b = backend as WasmBackend;
        outs = outShapes.map((s) => b.makeOutput(s, 'float32')); // before any view
        const simd = k.simd && simdKernels(backendMemory(b.wasm));
        if (simd) {
          const at = (t: tf.TensorInfo) => b.dataIdMap.get(t.dataId).memoryOffset;
          k.simd!(simd, ins.map(at), outs.map(at), shapes, attrs as unknown as A);
          return outs.length === 1 ? outs[0] : outs;
        }
        k.compute(
          ins.map((t) => b.typedArrayFromHeap(t)),
          outs.map((t) => b.typedArrayFromHeap(t) as Float32Array),
          shapes,
          attrs as unknown as A,
        );
      } else {
        const b = backend as CpuBackend;
        const views = outShapes.map((s) => new Float32Array(tf.util.sizeFromShape(s)));
        k.compute(
          ins.map((t) => b.data.get(t.dataId).values),
          views,
          shapes,
          attrs as unknown as A,
        );
        outs = outShapes.map((s, i) => b.makeTensorInfo(s, 'float32', views[i]));
      }
      return outs.length === 1 ? outs[0] : outs;
    },
  }));
}

/**
 * The configs of a kernel whose body is tf ops (run by the active backend's own kernels, untaped inside the kernel)
 * for `backends` (default: wasm and cpu, where it is the forward of a fused op whose backward is a JS kernel, so
 * that the pair has one tape node with a hand-written gradient).
 */
export function opKernelConfigs(
  kernelName: string,
  body: (inputs: tf.NamedTensorMap, attrs: object) => tf.Tensor | tf.Tensor[],
  backends: readonly KernelBackend[] = HOST_BACKENDS,
): tf.KernelConfig[] {
  return backends.map((backendName) => ({
    kernelName,
    backendName,
    kernelFunc: ({ inputs, attrs }) =>
      tf.tidy(() => body(inputs as tf.NamedTensorMap, attrs as object)) as unknown as tf.TensorInfo,
  }));
}

/**
 * A float32 tensor's values without a copy where the backend keeps them in this process: a view of wasm's heap
 * (valid until the next tensor is allocated, which may grow the heap: use it at once) or cpu's own array; never
 * write to it. Null on other backends (read them with `data()`).
 */
export function hostView(t: tf.Tensor): Float32Array | null {
  if (t.dtype !== 'float32') return null;
  const backend = tf.backend() as unknown as WasmBackend & CpuBackend;
  if (tf.getBackend() === 'wasm') return backend.typedArrayFromHeap(t) as Float32Array;
  if (tf.getBackend() === 'cpu') return backend.data.get(t.dataId).values as Float32Array;
  return null;
}

/**
 * New float32 tensors of `shapes` whose values `fill` writes through views, with no copy, where the backend keeps
 * tensors in this process (wasm: every tensor is allocated before the first view is taken; cpu: the arrays become
 * the tensors). Null on other backends: fill arrays of your own and upload them.
 */
export function hostTensors(
  shapes: readonly number[][],
  fill: (views: Float32Array[]) => void,
): tf.Tensor[] | null {
  const name = tf.getBackend();
  if (name !== 'wasm' && name !== 'cpu') return null;
  const backend = tf.backend() as unknown as WasmBackend;
  const views = name === 'cpu' ? shapes.map((s) => new Float32Array(tf.util.sizeFromShape(s))) : null;
  const tensors = shapes.map((s, i) =>
    views
      ? tf.tensor(views[i], s, 'float32') // the cpu backend keeps the array it is given
      : tf.engine().makeTensorFromTensorInfo(backend.makeOutput([...s], 'float32'), tf.backend()),
  );
  try {
    fill(views ?? tensors.map((t) => backend.typedArrayFromHeap(t) as Float32Array));
  } catch (e) {
    tf.dispose(tensors);
    throw e;
  }
  return tensors;
}

/** Runs a registered JS kernel on tensors. */
export function runJsKernel<T extends tf.Tensor | tf.Tensor[]>(
  kernelName: string,
  inputs: tf.NamedTensorMap,
  attrs: object = {},
): T {
  return tf.engine().runKernel(kernelName, inputs, attrs as tf.NamedAttrMap) as unknown as T;
}
