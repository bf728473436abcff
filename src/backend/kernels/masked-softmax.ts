// The kernels of attention's softmax with its mask as one op (src/model/fused/masked-softmax.ts):
// probabilities = softmax(scores + mask) over the keys. The forward runs in one SIMD pass per row on wasm
// (backend/simd/softmax.wat: the add, the max, the exponentials and the scaling while the row is in L1), and with
// `causal` (the mask hides every key after the query's position, as attention's always does) it stops at the
// query's position and zero-fills the rest, where those probabilities are exactly 0 anyway: half the exponentials
// of a training step's rows. Elsewhere, and on WebAssembly without SIMD, the backend's own add and softmax kernels
// run it (a JS exp costs several times wasm's). The backward is one pass per row, dscores = p ⊙ (dp − ⟨p, dp⟩),
// in JS or SIMD, instead of tfjs's composed softmax gradient (four passes) and the add's. scores (B, G, T, S),
// G = heads; mask (T, S), shared by the batch, or (B, T, S), one per sequence.
import * as tf from '@tensorflow/tfjs';
import { backendMemory, simdKernels, type WasmMemory } from '../simd/instance.js';
import { HOST_BACKENDS } from './backends.js';
import { jsKernelConfigs, opKernelConfigs, runJsKernel } from './js-kernel.js';
import type { KernelSet } from './types.js';
import { heapOffset } from './weight-matmul.js';

/** The op: inputs scores (B, G, T, S), mask (T, S) or (B, T, S); attrs MaskedSoftmaxAttrs; output (B, G, T, S). */
export const MASKED_SOFTMAX = 'MoteMaskedSoftmax';
const BACKWARD = 'MoteSoftmaxGrad';

/** The op's attributes. */
export interface MaskedSoftmaxAttrs {
  /** The mask hides (≤ MASKED) every key j > t + S − T from query t: those probabilities are 0. */
  causal: boolean;
}

/** The composed reference: softmax(scores + mask), mask broadcast over the heads. */
export function maskedSoftmaxComposed(scores: tf.Tensor4D, mask: tf.Tensor2D | tf.Tensor3D): tf.Tensor4D {
  const [B, , T, S] = scores.shape;
  const m = mask.rank === 3 ? tf.reshape(mask, [B, 1, T, S]) : mask; // (B, 1, T, S) or (T, S)
  return tf.softmax(tf.add(scores, m)) as tf.Tensor4D;
}

/** The parts of tfjs-backend-wasm's BackendWasm the SIMD forward uses. */
interface WasmBackend {
  wasm: { asm?: { memory?: WasmMemory }; wasmMemory?: WasmMemory };
  dataIdMap: { get(dataId: object): { memoryOffset: number } };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
}

const composedForward = ({ scores, mask }: tf.NamedTensorMap) =>
  maskedSoftmaxComposed(scores as tf.Tensor4D, mask as tf.Tensor2D | tf.Tensor3D);

/** The forward on wasm: the SIMD pass where the runtime has SIMD, else the composed ops. */
const wasmForward: tf.KernelConfig = {
  kernelName: MASKED_SOFTMAX,
  backendName: 'wasm',
  kernelFunc: ({ inputs, backend, attrs }) => {
    const { scores, mask } = inputs as { scores: tf.TensorInfo; mask: tf.TensorInfo };
    const b = backend as unknown as WasmBackend;
    const simd = simdKernels(backendMemory(b.wasm));
    if (!simd) return tf.tidy(() => composedForward(inputs as tf.NamedTensorMap)) as unknown as tf.TensorInfo;
    const [B, G, T, S] = scores.shape;
    const { causal } = attrs as unknown as MaskedSoftmaxAttrs;
    const p = b.makeOutput(scores.shape, 'float32'); // (B, G, T, S)
    const at = (t: tf.TensorInfo) => heapOffset(b, t);
    const perBatch = mask.shape.length === 3 ? 1 : 0;
    simd.masked_softmax(at(p), at(scores), at(mask), B, G, T, S, perBatch, causal ? 1 : 0);
    return p;
  },
};

export const maskedSoftmaxKernels: KernelSet = {
  kernels: [
    wasmForward,
    ...opKernelConfigs(
      MASKED_SOFTMAX,
      composedForward,
      HOST_BACKENDS.filter((n) => n !== 'wasm'),
    ),
    ...jsKernelConfigs<MaskedSoftmaxAttrs>({
      kernelName: BACKWARD,
      inputs: ['dy', 'p'],
      outputShapes: ([dy]) => [dy],
      compute([dy, p], [dx], [shape], { causal }) {
        const [T, S] = shape.slice(-2);
        const rows = dy.length / S;
        for (let r = 0, o = 0; r < rows; r++, o += S) {
          const n = causal ? Math.min(S, (r % T) + 1 + S - T) : S;
          let dot = 0;
          for (let j = o; j < o + n; j++) dot += p[j] * dy[j];
          for (let j = o; j < o + n; j++) dx[j] = p[j] * (dy[j] - dot);
          dx.fill(0, o + n, o + S); // past the query (wasm's outputs are not zeroed)
        }
      },
      simd(k, [dy, p], [dx], [shape], { causal }) {
        const [T, S] = shape.slice(-2);
        k.softmax_grad(dx, dy, p, tf.util.sizeFromShape(shape) / S, S, T, causal ? 1 : 0);
      },
    }),
  ],
  gradients: [
    {
      kernelName: MASKED_SOFTMAX,
      inputsToSave: ['mask'],
      outputsToSave: [true],
      gradFunc: (dy, [mask, p], attrs) => ({
        scores: () => runJsKernel(BACKWARD, { dy: dy as tf.Tensor, p }, attrs),
        mask: () => tf.zerosLike(mask), // masks are constants; never on a gradient path in practice
      }),
    },
  ],
};
