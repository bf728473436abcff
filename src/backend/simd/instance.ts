// Hand-written WebAssembly SIMD kernels (the .wat files here, assembled by scripts/build-wasm.mjs) instantiated on
// the memory of tfjs-backend-wasm, so they read and write tensors where they live. One set of instances per
// memory (a backend, or a worker thread's backend); a memory that grows stays the same object, so the instances
// stay valid. Arguments are byte offsets into that memory and sizes in elements. tfjs's multi-threaded build (a
// cross-origin isolated page) has a shared memory, which only a module declaring a shared import may take: each
// kernel is assembled both ways, and the memory picks. The kernels run on the thread that calls the op, between
// XNNPACK's parallel sections, so the shared memory sees no concurrent writes from them.
import { WASM_BASE64 as GEMM, WASM_SHARED_BASE64 as GEMM_SHARED } from './gemm-wasm.js';
import { WASM_BASE64 as RMSNORM, WASM_SHARED_BASE64 as RMSNORM_SHARED } from './rmsnorm-wasm.js';
import { WASM_BASE64 as SOFTMAX, WASM_SHARED_BASE64 as SOFTMAX_SHARED } from './softmax-wasm.js';
import { WASM_BASE64 as TRANSPOSE, WASM_SHARED_BASE64 as TRANSPOSE_SHARED } from './transpose-wasm.js';

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
  /**
   * gemm.wat: C (M × N) = A (M × K) · B, B (K × N) (bt = 0), or A · Bᵀ, B (N × K) (bt = 1), added to C when acc = 1;
   * `scratch`: GEMM_SCRATCH_BYTES of the same memory for the kernel's panel.
   */
  gemm(
    a: number,
    b: number,
    c: number,
    M: number,
    K: number,
    N: number,
    bt: number,
    acc: number,
    scratch: number,
  ): void;
}

/** Bytes of the scratch area `gemm` takes: a (256 × 8) panel and a row of 8 floats. */
export const GEMM_SCRATCH_BYTES = 8192 + 128;

/** A WebAssembly.Memory (opaque here: the project's type libraries do not declare the WebAssembly API). */
export type WasmMemory = object;

/** The part of the WebAssembly API used here. */
interface WebAssemblyApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: object };
}
const wasmApi = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly;

const SOURCES = {
  plain: [TRANSPOSE, SOFTMAX, RMSNORM, GEMM],
  shared: [TRANSPOSE_SHARED, SOFTMAX_SHARED, RMSNORM_SHARED, GEMM_SHARED],
};
const compiled: { plain?: object[] | null; shared?: object[] | null } = {};
const instances = new WeakMap<WasmMemory, SimdKernels | null>();

/** The compiled modules of one variant, or null where this WebAssembly has no SIMD (or no threads, for shared). */
function modules(variant: 'plain' | 'shared' = 'plain'): object[] | null {
  if (compiled[variant] === undefined) {
    const bytes = SOURCES[variant].map((b64) => Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0)));
    compiled[variant] = bytes.every((m) => wasmApi.validate(m))
      ? bytes.map((m) => new wasmApi.Module(m))
      : null;
  }
  return compiled[variant];
}

/** Whether `memory` is shared (its buffer a SharedArrayBuffer: tfjs's multi-threaded build). */
function isShared(memory: WasmMemory): boolean {
  const buffer = (memory as { buffer?: unknown }).buffer;
  return typeof SharedArrayBuffer !== 'undefined' && buffer instanceof SharedArrayBuffer;
}

/**
 * The wasm backend's memory: exported by tfjs's single-threaded builds (`asm.memory`); created by the JavaScript
 * of its multi-threaded build and kept on the module (`wasmMemory`).
 */
export function backendMemory(wasm: { asm?: { memory?: WasmMemory }; wasmMemory?: WasmMemory } | undefined) {
  return wasm?.asm?.memory ?? wasm?.wasmMemory;
}

/** Whether this WebAssembly runs the SIMD kernels (then wasm's Transpose is the SIMD one). */
export function simdSupported(): boolean {
  return modules() !== null;
}

/**
 * The kernels on `memory` (ordinary or shared), or null where this WebAssembly has no SIMD or the memory cannot be
 * imported (or there is none): callers then keep their JS path.
 */
export function simdKernels(memory: WasmMemory | undefined): SimdKernels | null {
  if (!memory) return null;
  const compiled = modules(isShared(memory) ? 'shared' : 'plain');
  if (!compiled) return null;
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
  if (!memory) return 'the wasm backend exposes no memory to import';
  if (!simdKernels(memory))
    return isShared(memory)
      ? "the shared memory of tfjs's multi-threaded build cannot be imported here"
      : "the wasm backend's memory cannot be imported";
  return undefined;
}
