// Identity (tf.clone) on the wasm backend without a copy. tfjs-backend-wasm 4.22 copies the whole tensor, and the
// engine clones every tensor it saves for a backward pass (engine.saveTensorsForBackwardMode), so a training step
// copied each saved activation once more, among them the (B, heads, T, T) attention probabilities. Tensors are
// immutable (a Variable's assign swaps its data id), so the clone can share the data and count a reference, as
// tfjs's cpu backend does; the memory is freed with the last reference.
import * as tf from '@tensorflow/tfjs';
import type { WasmOverride } from './types.js';

interface WasmBackend {
  incRef(dataId: object): void;
}

let original: tf.KernelConfig | undefined;

function identity(args: { inputs: tf.NamedTensorInfoMap; backend: unknown }): tf.TensorInfo {
  const x = args.inputs.x as tf.TensorInfo;
  if (x.dtype === 'string') return (original!.kernelFunc as (a: typeof args) => tf.TensorInfo)(args);
  (args.backend as WasmBackend).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

/** The wasm Identity replaced by the reference-counting one above; strings keep the original. */
export const wasmIdentity: WasmOverride = {
  kernelName: tf.Identity,
  kernelFunc: identity as unknown as tf.KernelFunc,
  keep: (k) => {
    original = k;
  },
};
