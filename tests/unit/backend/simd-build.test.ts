// The WebAssembly SIMD kernels (src/backend/simd): the committed modules are exactly what their .wat sources
// assemble to; on a memory of their own, and on a shared one (tfjs's threaded build), they compute what they say.
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs script without type declarations
import { assembleAll } from '../../../scripts/build-wasm.mjs';
import { backendMemory, simdKernels, simdUnavailable } from '../../../src/backend/simd/instance.js';

/** The WebAssembly.Memory constructor (the project's type libraries do not declare the WebAssembly API). */
const Memory = (
  globalThis as unknown as {
    WebAssembly: {
      Memory: new (d: { initial: number; maximum?: number; shared?: boolean }) => { buffer: ArrayBuffer };
    };
  }
).WebAssembly.Memory;

describe('src/backend/simd', () => {
  it('each *-wasm.ts is its .wat assembled (run node scripts/build-wasm.mjs after editing a .wat)', async () => {
    const built = (await assembleAll()) as { name: string; ts: string; source: string }[];
    expect(built.map((b) => b.name)).toEqual(['decode', 'gemm', 'rmsnorm', 'softmax', 'transpose']);
    for (const { ts, source } of built) expect(await readFile(ts, 'utf8')).toBe(source);
  });

  it('on a memory of its own: transpose and softmax_grad against plain loops', () => {
    const memory = new Memory({ initial: 1 });
    const k = simdKernels(memory)!;
    const f = new Float32Array(memory.buffer);
    const [R, C] = [7, 10]; // edges in both directions
    for (let i = 0; i < R * C; i++) f[i] = i + 0.5;
    k.transpose(0, 4 * 100, 1, R, C);
    for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) expect(f[100 + c * R + r]).toBe(r * C + c + 0.5);
    const [rows, S] = [3, 6];
    const p = Float32Array.from({ length: rows * S }, (_, i) => ((i * 7) % 5) / 10);
    const dy = Float32Array.from({ length: rows * S }, (_, i) => Math.sin(i));
    f.set(p, 200);
    f.set(dy, 300);
    k.softmax_grad(4 * 400, 4 * 300, 4 * 200, rows, S);
    for (let r = 0; r < rows; r++) {
      let dot = 0;
      for (let j = 0; j < S; j++) dot += p[r * S + j] * dy[r * S + j];
      for (let j = 0; j < S; j++)
        expect(f[400 + r * S + j]).toBeCloseTo(p[r * S + j] * (dy[r * S + j] - dot), 6);
    }
  });

  it("on a shared memory (tfjs's multi-threaded build): the shared-import variant, same results", () => {
    const memory = new Memory({ initial: 1, maximum: 4, shared: true });
    expect(memory.buffer).toBeInstanceOf(SharedArrayBuffer);
    const k = simdKernels(memory)!;
    expect(k).not.toBeNull();
    expect(k).not.toBe(simdKernels(new Memory({ initial: 1 }))); // its own instances
    const f = new Float32Array(memory.buffer);
    const [outer, R, C, inner] = [2, 5, 3, 4];
    const n = outer * R * C * inner;
    for (let i = 0; i < n; i++) f[i] = i;
    k.transpose_runs(0, 4 * n, outer, R, C, inner);
    for (let o = 0; o < outer; o++)
      for (let r = 0; r < R; r++)
        for (let c = 0; c < C; c++)
          for (let i = 0; i < inner; i++)
            expect(f[n + ((o * C + c) * R + r) * inner + i]).toBe(((o * R + r) * C + c) * inner + i);
  });

  it("finds the backend's memory where each tfjs build keeps it", () => {
    const plain = new Memory({ initial: 1 });
    const shared = new Memory({ initial: 1, maximum: 1, shared: true });
    expect(backendMemory({ asm: { memory: plain } })).toBe(plain);
    expect(backendMemory({ asm: {}, wasmMemory: shared })).toBe(shared);
    expect(backendMemory(undefined)).toBeUndefined();
    expect(simdUnavailable(undefined)).toBe('the wasm backend exposes no memory to import');
    expect(simdUnavailable(shared)).toBeUndefined();
  });
});
