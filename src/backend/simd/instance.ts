// Hand-written WebAssembly SIMD kernels (the .wat files here, assembled by scripts/build-wasm.mjs) instantiated on
// the memory of tfjs-backend-wasm, so they read and write tensors where they live. One set of instances per
// memory (a backend, or a worker thread's backend); a memory that grows stays the same object, so the instances
// stay valid. Arguments are byte offsets into that memory and sizes in elements. tfjs's multi-threaded build (a
// cross-origin isolated page) has a shared memory, which only a module declaring a shared import may take: each
// kernel is assembled both ways, and the memory picks. The kernels run on the thread that calls the op, between
// XNNPACK's parallel sections, so the shared memory sees no concurrent writes from them.
// A module assembled from a .wat that uses relaxed SIMD (gemm.wat) comes in two forms, and the relaxed one is
// taken where the runtime validates it (Chrome 114+, Node 22+; Node 20 behind a flag, which select-node.ts sets).
import * as adamw from './adamw-wasm.js';
import * as blocks from './blocks-wasm.js';
import * as gemm from './gemm-wasm.js';
import * as logsumexp from './logsumexp-wasm.js';
import * as rmsnorm from './rmsnorm-wasm.js';
import * as rope from './rope-wasm.js';
import * as softmax from './softmax-wasm.js';
import * as transpose from './transpose-wasm.js';

/** rope.wat's two exports: out ← the rotation of `input` (byte offsets), by the tables from row `pos`. */
type RopeHeads = (
  out: number,
  input: number,
  cos2: number,
  sin2: number,
  B: number,
  T: number,
  H: number,
  hs: number,
  pos: number,
  scale: number,
) => void;

/** gemm.wat's operands: byte offsets of A, B, C; their sizes; B transposed; C added to; the scratch area. */
type GemmOperands = [
  a: number,
  b: number,
  c: number,
  M: number,
  K: number,
  N: number,
  bt: number,
  acc: number,
  scratch: number,
];

/** The exports of every module. */
export interface SimdKernels {
  /** transpose.wat: `outer` (R × C) matrices of 4-byte elements at x, transposed to y. */
  transpose(x: number, y: number, outer: number, R: number, C: number): void;
  /** transpose.wat: the same for elements that are runs of `inner` floats. */
  transpose_runs(x: number, y: number, outer: number, R: number, C: number, inner: number): void;
  /**
   * rope.wat: x (B·T, H·hs) → rotated heads y (B, H, T, hs) × scale, token t at table row pos + t of cos2, sin2
   * ((rows, hs): (c, c) and (−s, s) per pair).
   */
  rope_heads: RopeHeads;
  /** rope.wat: the inverse rotation, dy (B, H, T, hs) → dx (B·T, H·hs) × scale, with the same tables. */
  rope_heads_grad: RopeHeads;
  /**
   * softmax.wat: p = softmax(x + mask) per row of S floats, x (B, G, T, S), mask (T, S) or, perBatch = 1, (B, T, S);
   * causal = 1: keys after the query's position (j > t + S − T) are hidden by the mask, and get p = 0 unread.
   */
  masked_softmax(
    p: number,
    x: number,
    mask: number,
    B: number,
    G: number,
    T: number,
    S: number,
    perBatch: number,
    causal: number,
  ): void;
  /**
   * softmax.wat: dx = p ⊙ (dy − ⟨p, dy⟩) per row of S floats; causal = 1 (rows (…, T, S)): over the keys up to
   * each query's position only, dx = 0 past it and dy there unread.
   */
  softmax_grad(dx: number, dy: number, p: number, rows: number, S: number, T: number, causal: number): void;
  /** logsumexp.wat: lse[r] = log Σ_j exp(x[r, j]) per row of n floats. */
  row_lse(lse: number, x: number, rows: number, n: number): void;
  /** logsumexp.wat: g[r, j] = exp(x[r, j] − lse[r])·s[r] per row of n floats. */
  softmax_scale(g: number, x: number, lse: number, s: number, rows: number, n: number): void;
  /** rmsnorm.wat: RMSNorm's forward y = w ⊙ (r·x), r = 1/√(mean(x²) + eps) per row, with the JS kernel's bits. */
  rms_norm(y: number, x: number, w: number, N: number, d: number, eps: number): void;
  /** rmsnorm.wat: RMSNorm's dx for x (N, d), gain w, output gradient dy. */
  rms_norm_grad_x(dx: number, dy: number, x: number, w: number, N: number, d: number, eps: number): void;
  /** rmsnorm.wat: RMSNorm's dw (d), summed over the N rows. */
  rms_norm_grad_w(dw: number, dy: number, x: number, N: number, d: number, eps: number): void;
  /** blocks.wat: `rows` rows of `cols` floats from src to dst (strides in floats), copied, or added when add = 1. */
  block(
    dst: number,
    dstStride: number,
    src: number,
    srcStride: number,
    rows: number,
    cols: number,
    add: number,
  ): void;
  /**
   * adamw.wat: the AdamW update of n parameters p, g, m, v into P, M, V, the gradient scaled by `scale` (float64
   * arithmetic, as adamw.ts).
   */
  adamw(
    p: number,
    g: number,
    m: number,
    v: number,
    P: number,
    M: number,
    V: number,
    n: number,
    beta1: number,
    beta2: number,
    c1: number,
    c2: number,
    decay: number,
    stepSize: number,
    sqrtBc2: number,
    eps: number,
    scale: number,
  ): void;
  /**
   * gemm.wat: C (M × N) = A (M × K) · B, B (K × N) (bt = 0), or A · Bᵀ, B (N × K) (bt = 1), added to C when acc = 1;
   * `scratch`: GEMM_SCRATCH_BYTES of the same memory for the kernel's panel.
   */
  gemm(...operands: GemmOperands): void;
  /**
   * gemm.wat: gemm for attention's products under a causal mask (row r of C is query r mod T, seeing keys up to
   * r mod T + off), skipping work per 4-row strip: mode 1, C's columns past the strip's last query are not
   * computed; mode 2, A's columns past it are zeros; mode 3, A's columns before row r − off are zeros.
   */
  gemm_causal(...args: [...GemmOperands, mode: number, T: number, off: number]): void;
}

/**
 * Rows below which products stay on XNNPACK (decoding's few rows: its packed copy of the right-hand side, cached per
 * tensor, pays off there), and from which the wasm backend's products go to `gemm`.
 */
export const GEMM_MIN_ROWS = 16;

/** Bytes of the scratch area `gemm` takes: a (256 × 8) panel of B, a (256 × 256) block of A, a 4 × 8 block of C. */
export const GEMM_SCRATCH_BYTES = 256 * 8 * 4 + 256 * 256 * 4 + 4 * 8 * 4;

/** A WebAssembly.Memory (opaque here: the project's type libraries do not declare the WebAssembly API). */
export type WasmMemory = object;

/** The part of the WebAssembly API used here. */
interface WebAssemblyApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: object };
}
const wasmApi = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly;

/** One assembled .wat (a *-wasm.ts module). */
interface Source {
  WASM_BASE64: string;
  WASM_SHARED_BASE64: string;
  WASM_RELAXED_BASE64?: string;
  WASM_RELAXED_SHARED_BASE64?: string;
}
const SOURCES: Source[] = [transpose, softmax, rmsnorm, gemm, adamw, blocks, logsumexp, rope];

/** Compiled modules of one variant (memory kind × relaxed wanted), null where this WebAssembly cannot run them. */
interface Compiled {
  modules: object[];
  /** Whether some module is in its relaxed-SIMD form. */
  relaxed: boolean;
}
const compiled = new Map<string, Compiled | null>();
const instances = new WeakMap<WasmMemory, Map<string, SimdKernels | null>>();
let preferRelaxed = true;

/**
 * Whether the kernels take their relaxed-SIMD form where the runtime has it (default true). Its fused multiply-add
 * rounds once where the CPU has FMA and twice where it has not, so results differ in the last bits between
 * machines; false keeps the plain form everywhere. Set before the first product: instances already made stay.
 */
export function preferRelaxedSimd(on: boolean): void {
  preferRelaxed = on;
}

const decode = (b64: string) => Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));

/** The compiled modules of one variant, or null where this WebAssembly has no SIMD (or no threads, for shared). */
function modules(shared: boolean, relaxed: boolean): Compiled | null {
  const key = `${shared}/${relaxed}`;
  if (!compiled.has(key)) {
    let anyRelaxed = false;
    const bytes = SOURCES.map((src) => {
      const fast = relaxed && (shared ? src.WASM_RELAXED_SHARED_BASE64 : src.WASM_RELAXED_BASE64);
      const fastBytes = fast ? decode(fast) : null;
      if (fastBytes && wasmApi.validate(fastBytes)) {
        anyRelaxed = true;
        return fastBytes;
      }
      return decode(shared ? src.WASM_SHARED_BASE64 : src.WASM_BASE64);
    });
    compiled.set(
      key,
      bytes.every((m) => wasmApi.validate(m))
        ? { modules: bytes.map((m) => new wasmApi.Module(m)), relaxed: anyRelaxed }
        : null,
    );
  }
  return compiled.get(key)!;
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
  return modules(false, false) !== null;
}

/** Whether the kernels made from now on use relaxed SIMD's fused multiply-add (the runtime has it and it is preferred). */
export function relaxedSimdActive(): boolean {
  return modules(false, preferRelaxed)?.relaxed ?? false;
}

/**
 * The kernels on `memory` (ordinary or shared), or null where this WebAssembly has no SIMD or the memory cannot be
 * imported (or there is none): callers then keep their JS path. `relaxed`: the relaxed-SIMD form where the runtime
 * has it (default: preferRelaxedSimd's choice); false, the plain form.
 */
export function simdKernels(
  memory: WasmMemory | undefined,
  relaxed: boolean = preferRelaxed,
): SimdKernels | null {
  if (!memory) return null;
  const variant = modules(isShared(memory), relaxed);
  if (!variant) return null;
  let byVariant = instances.get(memory);
  if (!byVariant) instances.set(memory, (byVariant = new Map()));
  let k = byVariant.get(String(relaxed));
  if (k === undefined) {
    try {
      const exports = variant.modules.map((m) => new wasmApi.Instance(m, { env: { memory } }).exports);
      k = Object.assign({}, ...exports) as SimdKernels;
    } catch {
      k = null;
    }
    byVariant.set(String(relaxed), k);
  }
  return k;
}

/** Why the SIMD kernels do not run on `memory` (the wasm backend's), or undefined when they do. */
export function simdUnavailable(memory: WasmMemory | undefined): string | undefined {
  if (!simdSupported()) return 'this WebAssembly has no SIMD';
  if (!memory) return 'the wasm backend exposes no memory to import';
  if (!simdKernels(memory))
    return isShared(memory)
      ? "the shared memory of tfjs's multi-threaded build cannot be imported here"
      : "the wasm backend's memory cannot be imported";
  return undefined;
}
