// Hand-written WebAssembly SIMD kernels (the .wat files here, assembled by scripts/build-wasm.mjs) instantiated on
// the memory of tfjs-backend-wasm, so they read and write tensors where they live. One set of instances per
// memory (a backend, or a worker thread's backend); a memory that grows stays the same object, so the instances
// stay valid. Arguments are byte offsets into that memory and sizes in elements.
import { WASM_BASE64 as RMSNORM } from './rmsnorm-wasm.js';
import { WASM_BASE64 as SOFTMAX } from './softmax-wasm.js';
import { WASM_BASE64 as TRANSPOSE } from './transpose-wasm.js';

/** The exports of every module. */
export interface SimdKernels {
  /** transpose.wat: `outer` (R × C) matrices of 4-byte elements at x, transposed to y. */
  transpose(x: number, y: number, outer: number, R: number, C: number): void;
  /** transpose.wat: the same for elements that are runs of `inner` floats. */
  transpose_runs(x: number, y: number, outer: number, R: number, C: number, inner: number): void;
  /** softmax.wat: dx = p ⊙ (dy − ⟨p, dy⟩) per row of S floats. */
  softmax_grad(dx: number, dy: number, p: number, rows: number, S: number): void;
  /** rmsnorm.wat: RMSNorm's dx for x (N, d), gain w, output gradient dy. */
  rms_norm_grad_x(dx: number, dy: number, x: number, w: number, N: number, d: number, eps: number): void;
  /** rmsnorm.wat: RMSNorm's dw (d), summed over the N rows. */
  rms_norm_grad_w(dw: number, dy: number, x: number, N: number, d: number, eps: number): void;
}

/** A WebAssembly.Memory (opaque here: the project's type libraries do not declare the WebAssembly API). */
export type WasmMemory = object;

/** The part of the WebAssembly API used here. */
interface WebAssemblyApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: object };
}
const wasmApi = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly;

let compiled: object[] | null | undefined;
const instances = new WeakMap<WasmMemory, SimdKernels | null>();

/** The compiled modules, or null where this WebAssembly has no SIMD. */
function modules(): object[] | null {
  if (compiled === undefined) {
    const bytes = [TRANSPOSE, SOFTMAX, RMSNORM].map((b64) =>
      Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0)),
    );
    compiled = bytes.every((m) => wasmApi.validate(m)) ? bytes.map((m) => new wasmApi.Module(m)) : null;
  }
  return compiled;
}

/** Whether this WebAssembly runs the SIMD kernels (then wasm's Transpose is the SIMD one). */
export function simdSupported(): boolean {
  return modules() !== null;
}

/**
 * The kernels on `memory`, or null where this WebAssembly has no SIMD or the memory cannot be imported (the
 * shared memory of tfjs's multi-threaded build, which Node does not use but a cross-origin isolated page does,
 * or no memory at all): callers then keep their JS path.
 */
export function simdKernels(memory: WasmMemory | undefined): SimdKernels | null {
  const compiled = modules();
  if (!compiled || !memory) return null;
  let k = instances.get(memory);
  if (k === undefined) {
    try {
      const exports = compiled.map((m) => new wasmApi.Instance(m, { env: { memory } }).exports);
      k = Object.assign({}, ...exports) as SimdKernels;
    } catch {
      k = null;
    }
    instances.set(memory, k);
  }
  return k;
}

/** Why the SIMD kernels do not run on `memory` (the wasm backend's), or undefined when they do. */
export function simdUnavailable(memory: WasmMemory | undefined): string | undefined {
  if (!modules()) return 'this WebAssembly has no SIMD';
  if (!memory) return "the wasm backend exposes no memory to import (tfjs's multi-threaded build)";
  if (!simdKernels(memory))
    return "the wasm backend's memory cannot be imported (the shared memory of the multi-threaded build)";
  return undefined;
}
