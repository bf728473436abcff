// Hand-written WebAssembly SIMD kernels (the .wat files here, assembled by scripts/build-wasm.mjs) instantiated on
// the memory of tfjs-backend-wasm, so they read and write tensors where they live. One instance per memory (a
// backend, or a worker thread's backend); a memory that grows stays the same object, so the instance stays valid.
import { WASM_BASE64 as TRANSPOSE } from './transpose-wasm.js';

/** The exports of transpose.wat (byte offsets into the shared memory). */
export interface TransposeExports {
  transpose(x: number, y: number, outer: number, R: number, C: number): void;
  /** The same for elements that are runs of `inner` floats. */
  transpose_runs(x: number, y: number, outer: number, R: number, C: number, inner: number): void;
}

/** A WebAssembly.Memory (opaque here: the project's type libraries do not declare the WebAssembly API). */
export type WasmMemory = object;

/** The part of the WebAssembly API used here. */
interface WebAssemblyApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
}
const wasmApi = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly;

let compiled: object | null | undefined;
const instances = new WeakMap<WasmMemory, TransposeExports>();

/** The transpose kernel on `memory`, or null where this WebAssembly has no SIMD. */
export function simdTranspose(memory: WasmMemory): TransposeExports | null {
  if (compiled === undefined) {
    const bytes = Uint8Array.from(atob(TRANSPOSE), (ch) => ch.charCodeAt(0));
    compiled = wasmApi.validate(bytes) ? new wasmApi.Module(bytes) : null;
  }
  if (!compiled) return null;
  let k = instances.get(memory);
  if (!k) {
    k = new wasmApi.Instance(compiled, { env: { memory } }).exports as TransposeExports;
    instances.set(memory, k);
  }
  return k;
}
