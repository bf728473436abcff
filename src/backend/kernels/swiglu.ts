// SwiGLU's gating, silu(g) ⊙ u = g·σ(g)·u, as one op that saves only g and u for the backward and recomputes σ(g)
// there. Composed, the tape kept σ(g), g·σ(g), g and u: four (N, hidden) tensors per layer, the largest share of a
// training step's activations at the SmolLM2 shape (docs/performance.md, "Real size").
//   d/dg = dy·u·σ(g)·(1 + g·(1 − σ(g))) = dy·u·(σ + silu·(1 − σ)),   d/du = dy·silu,   silu = g·σ(g)
// On wasm with SIMD both directions are one pass each (backend/simd/swiglu.wat, its e^x the host decoder's); the
// composed ops made four passes forward and about ten back. Elsewhere, and on wasm without SIMD, the backend's
// own element-wise kernels run the formulas (a JS e^x costs several times wasm's, so no JS kernel here); the cpu
// backend's composed ops are the tests' reference.
import * as tf from '@tensorflow/tfjs';
import { backendMemory, type SimdKernels, simdKernels, type WasmMemory } from '../simd/instance.js';
import { KERNEL_BACKENDS } from './backends.js';
import { opKernelConfigs } from './js-kernel.js';
import { runKernel } from './run.js';
import type { KernelSet } from './types.js';

export const SWIGLU = 'MoteSwiGlu';
/** Its backward: inputs dy, g, u; outputs [dg, du]. */
const SWIGLU_GRAD = 'MoteSwiGluGrad';

/** The composed reference: silu(g) ⊙ u. */
export function swigluComposed(g: tf.Tensor, u: tf.Tensor): tf.Tensor {
  return tf.mul(tf.mul(g, tf.sigmoid(g)), u);
}

/** The composed backward: [dg, du]. */
export function swigluGradComposed(dy: tf.Tensor, g: tf.Tensor, u: tf.Tensor): [tf.Tensor, tf.Tensor] {
  const s = tf.sigmoid(g);
  return [tf.mul(tf.mul(tf.mul(dy, u), s), tf.add(1, tf.mul(g, tf.sub(1, s)))), tf.mul(dy, tf.mul(g, s))];
}

/** The parts of tfjs-backend-wasm's BackendWasm used here (not in its public typings). */
interface WasmBackend {
  wasm: { asm?: { memory?: WasmMemory }; wasmMemory?: WasmMemory };
  dataIdMap: { get(dataId: object): { memoryOffset: number } };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
}

type KernelArgs = Parameters<tf.KernelFunc>[0];

/** On wasm: the SIMD kernels and a tensor's byte offset, or null without SIMD. */
function simdOn(
  backend: unknown,
): { k: SimdKernels; at: (t: tf.TensorInfo) => number; b: WasmBackend } | null {
  const b = backend as WasmBackend;
  const k = simdKernels(backendMemory(b.wasm));
  return k && { k, b, at: (t) => b.dataIdMap.get(t.dataId).memoryOffset >>> 0 };
}

function wasmSwiglu({ inputs, backend }: KernelArgs): tf.TensorInfo | tf.Tensor {
  const { g, u } = inputs as { g: tf.TensorInfo; u: tf.TensorInfo };
  const s = simdOn(backend);
  if (!s) return tf.tidy(() => swigluComposed(g as tf.Tensor, u as tf.Tensor));
  const y = s.b.makeOutput([...g.shape], 'float32');
  s.k.swiglu(s.at(y), s.at(g), s.at(u), tf.util.sizeFromShape(g.shape));
  return y;
}

function wasmSwigluGrad({ inputs, backend }: KernelArgs): tf.TensorInfo[] | tf.Tensor[] {
  const { dy, g, u } = inputs as { dy: tf.TensorInfo; g: tf.TensorInfo; u: tf.TensorInfo };
  const n = tf.util.sizeFromShape(g.shape);
  const s = simdOn(backend);
  // swiglu_grad's last vector overlaps the one before it, so it needs four elements
  if (!s || n < 4) return tf.tidy(() => swigluGradComposed(dy as tf.Tensor, g as tf.Tensor, u as tf.Tensor));
  const [dg, du] = [s.b.makeOutput([...g.shape], 'float32'), s.b.makeOutput([...g.shape], 'float32')];
  s.k.swiglu_grad(s.at(dg), s.at(du), s.at(dy), s.at(g), s.at(u), n);
  return [dg, du];
}

const others = KERNEL_BACKENDS.filter((n) => n !== 'wasm');

export const swigluKernels: KernelSet = {
  kernels: [
    { kernelName: SWIGLU, backendName: 'wasm', kernelFunc: wasmSwiglu as unknown as tf.KernelFunc },
    { kernelName: SWIGLU_GRAD, backendName: 'wasm', kernelFunc: wasmSwigluGrad as unknown as tf.KernelFunc },
    ...opKernelConfigs(SWIGLU, ({ g, u }) => swigluComposed(g, u), others),
    ...opKernelConfigs(SWIGLU_GRAD, ({ dy, g, u }) => swigluGradComposed(dy, g, u), others),
  ],
  gradients: [
    {
      kernelName: SWIGLU,
      inputsToSave: ['g', 'u'],
      gradFunc: (dy, [g, u]) => {
        // both gradients come from one pass; made again if a caller's tidy freed them between the two closures
        // (tfjs's own backprop runs each in a tidy of its own; train/backprop.ts runs a node's in one)
        let both: tf.Tensor[] | null = null;
        const get = (i: number) => {
          if (!both || both[i].isDisposed)
            both = runKernel<tf.Tensor[]>(SWIGLU_GRAD, { dy: dy as tf.Tensor, g, u });
          return both[i];
        };
        return { g: () => get(0), u: () => get(1) };
      },
    },
  ],
};

/** silu(g) ⊙ u for g, u of one shape; saves g and u only (see the file header). */
export function swiglu<T extends tf.Tensor>(g: T, u: T): T {
  if (!tf.util.arraysEqual(g.shape, u.shape))
    throw new Error(`swiglu: gate and up differ in shape, [${g.shape}] and [${u.shape}]`);
  return runKernel(SWIGLU, { g, u });
}
