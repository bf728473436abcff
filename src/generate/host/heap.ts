// The host decoder's memory: one WebAssembly.Memory of its own per model, holding the weights laid out once for
// the decode kernels (src/backend/simd/decode.wat), the KV caches of the sequences being decoded and their
// activations, so that a decode step is a few kernel calls on memory the kernels already see (no copies in or out
// but the sampled token's logits). A first-fit allocator over it: regions are freed when a sequence ends or a
// weight set is evicted, and reused; the memory itself only grows (WebAssembly cannot shrink it).
import { WASM_BASE64 as DECODE } from '../../backend/simd/decode-wasm.js';

/** The kernels of decode.wat (pointers are byte offsets, sizes element counts). */
export interface DecodeKernels {
  /** out (rows, m) (+)= x (rows, n)·Wᵀ + b; W (m, n) row-major; b (m) or 0; acc ≠ 0 adds to out. */
  matmul(out: number, x: number, w: number, b: number, n: number, m: number, rows: number, acc: number): void;
  /** The same over W in packed blocks (weights.ts packBlocks): what the projections are stored as. */
  matmulPacked(
    out: number,
    x: number,
    w: number,
    b: number,
    n: number,
    m: number,
    rows: number,
    acc: number,
  ): void;
  /** out (rows, n) = w ⊙ x / √(mean(x²) + eps), per row. */
  rmsnorm(out: number, x: number, w: number, n: number, rows: number, eps: number): void;
  /** rotates the pairs of every head (hs floats) of v (n floats) by the angles of cos cs / sin sn (hs/2 each). */
  rope(v: number, cs: number, sn: number, n: number, hs: number): void;
  /** one token's attention over `len` cached positions (keys/values every `stride` floats); scores / sqrtHs. */
  attention(
    out: number,
    q: number,
    kc: number,
    vc: number,
    att: number,
    len: number,
    nh: number,
    nkv: number,
    hs: number,
    stride: number,
    sqrtHs: number,
  ): void;
  /** h = silu(h) ⊙ g over n floats. */
  swiglu(h: number, g: number, n: number): void;
  /** Σ of n floats (n a multiple of 16). */
  sum(p: number, n: number): number;
  /** memory.copy of n bytes. */
  copy(dst: number, src: number, n: number): void;
}

/** The part of the WebAssembly API used here (the project's type libraries do not declare it). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WebAssemblyApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: object };
  Memory: new (d: { initial: number; maximum?: number }) => WasmMemory;
}
const wasmApi = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly;

const PAGE = 65536;
/** wasm32 addresses 4 GiB at most. */
export const HEAP_MAX_BYTES = 65536 * PAGE;
/** Regions start on cache lines. */
const ALIGN = 64;

let compiled: object | null | undefined;

/** Whether this JavaScript engine runs WebAssembly SIMD (the host decoder's kernels). */
export function decodeKernelsSupported(): boolean {
  if (compiled === undefined) {
    const bytes = Uint8Array.from(atob(DECODE), (ch) => ch.charCodeAt(0));
    compiled = wasmApi?.validate(bytes) ? new wasmApi.Module(bytes) : null;
  }
  return compiled !== null;
}

/** The heap cannot hold what is asked. */
export class HeapExhaustedError extends Error {
  constructor(
    readonly requested: number,
    readonly inUse: number,
  ) {
    super(
      `host decoder memory: ${mb(requested)} more would exceed the 4 GiB a WebAssembly memory can address ` +
        `(${mb(inUse)} in use)`,
    );
    this.name = 'HeapExhaustedError';
  }
}

const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

export class WasmHeap {
  readonly kernels: DecodeKernels;
  private readonly memory: WasmMemory;
  private view: Float32Array;
  /** End of the highest region ever allocated (bytes); 0 … ALIGN is never handed out (0 means "none"). */
  private top = ALIGN;
  /** Free regions below `top`, by address. */
  private free: { at: number; bytes: number }[] = [];
  private used = 0;

  constructor() {
    if (!decodeKernelsSupported())
      throw new Error('the host decoder needs WebAssembly SIMD, which this JavaScript engine lacks');
    this.memory = new wasmApi.Memory({ initial: 1 });
    this.kernels = new wasmApi.Instance(compiled as object, { env: { memory: this.memory } })
      .exports as DecodeKernels;
    this.view = new Float32Array(this.memory.buffer);
  }

  /** The memory as floats (a new view after the memory grew: do not keep it across allocations). */
  get f32(): Float32Array {
    if (this.view.buffer !== this.memory.buffer) this.view = new Float32Array(this.memory.buffer);
    return this.view;
  }

  /** Bytes of the memory (what the process holds for it). */
  get committedBytes(): number {
    return this.memory.buffer.byteLength;
  }

  /** Bytes in live regions. */
  get usedBytes(): number {
    return this.used;
  }

  /** A region of `floats` floats (zero-filled); returns its byte offset. */
  alloc(floats: number): number {
    const bytes = Math.ceil((floats * 4) / ALIGN) * ALIGN || ALIGN;
    const i = this.free.findIndex((f) => f.bytes >= bytes);
    let at: number;
    if (i >= 0) {
      const f = this.free[i];
      at = f.at;
      if (f.bytes === bytes) this.free.splice(i, 1);
      else this.free[i] = { at: f.at + bytes, bytes: f.bytes - bytes };
    } else {
      at = this.top;
      const end = at + bytes;
      if (end > HEAP_MAX_BYTES) throw new HeapExhaustedError(bytes, this.used);
      const have = this.memory.buffer.byteLength;
      if (end > have) this.memory.grow(Math.ceil((end - have) / PAGE));
      this.top = end;
    }
    this.used += bytes;
    this.f32.fill(0, at / 4, (at + bytes) / 4);
    return at;
  }

  /** Whether `floats` more floats could still be allocated. */
  fits(floats: number): boolean {
    const bytes = Math.ceil((floats * 4) / ALIGN) * ALIGN;
    return this.free.some((f) => f.bytes >= bytes) || this.top + bytes <= HEAP_MAX_BYTES;
  }

  /** Returns a region of `floats` floats at `at` (as allocated). */
  release(at: number, floats: number): void {
    if (at === 0) return;
    const bytes = Math.ceil((floats * 4) / ALIGN) * ALIGN || ALIGN;
    this.used -= bytes;
    this.free.push({ at, bytes });
    this.free.sort((a, b) => a.at - b.at);
    // merge neighbours; a free region that ends at the top lowers the top
    const merged: { at: number; bytes: number }[] = [];
    for (const f of this.free) {
      const last = merged[merged.length - 1];
      if (last && last.at + last.bytes === f.at) last.bytes += f.bytes;
      else merged.push({ ...f });
    }
    const last = merged[merged.length - 1];
    if (last && last.at + last.bytes === this.top) {
      this.top = last.at;
      merged.pop();
    }
    this.free = merged;
  }
}
