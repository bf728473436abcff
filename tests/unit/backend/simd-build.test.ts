// The WebAssembly SIMD kernels (src/backend/simd): the committed modules are exactly what their .wat sources
// assemble to; on a memory of their own, and on a shared one (tfjs's threaded build), they compute what they say;
// gemm's relaxed-SIMD form (taken in Node 20 through the flag select-node.ts sets) and its plain form both.
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs script without type declarations
import { assembleAll, withIncludes, withoutRelaxed } from '../../../scripts/build-wasm.mjs';
import { enableRelaxedSimd } from '../../../src/backend/select-node.js';
import {
  backendMemory,
  relaxedSimdActive,
  simdKernels,
  simdUnavailable,
} from '../../../src/backend/simd/instance.js';

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
    expect(built.map((b) => b.name)).toEqual([
      'adamw',
      'blocks',
      'decode',
      'gemm',
      'logsumexp',
      'rmsnorm',
      'rope',
      'softmax',
      'transpose',
    ]);
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
    k.softmax_grad(4 * 400, 4 * 300, 4 * 200, rows, S, rows, 0);
    for (let r = 0; r < rows; r++) {
      let dot = 0;
      for (let j = 0; j < S; j++) dot += p[r * S + j] * dy[r * S + j];
      for (let j = 0; j < S; j++)
        expect(f[400 + r * S + j]).toBeCloseTo(p[r * S + j] * (dy[r * S + j] - dot), 6);
    }
  });

  it('rms_norm gives the JS kernel bits: 4 rows per group and a partial one, a d mod 4 tail, an eps not in float32', () => {
    const memory = new Memory({ initial: 1 });
    const k = simdKernels(memory)!;
    const f = new Float32Array(memory.buffer);
    const fr = Math.fround;
    for (const [N, d, eps] of [
      [6, 10, 1e-5],
      [4, 16, 1e-6],
      [1, 3, 0.1],
    ]) {
      const [x, w, y] = [0, 200, 400]; // float offsets
      for (let i = 0; i < N * d; i++) f[x + i] = Math.sin(i * 1.3) * (1 + (i % 5));
      for (let j = 0; j < d; j++) f[w + j] = 1 + Math.cos(j) / 3;
      k.rms_norm(4 * y, 4 * x, 4 * w, N, d, eps);
      for (let n = 0; n < N; n++) {
        let ss = 0;
        for (let j = 0; j < d; j++) ss = fr(ss + fr(f[x + n * d + j] * f[x + n * d + j]));
        const r = fr(1 / fr(Math.sqrt(fr(fr(ss / d) + eps))));
        for (let j = 0; j < d; j++) expect(f[y + n * d + j]).toBe(fr(f[w + j] * fr(r * f[x + n * d + j])));
      }
    }
  });

  it('rope_heads gives the JS kernel bits (head sizes 8 and 6, pos > 0, scale ≠ 1); its gradient the inverse rotation', () => {
    const memory = new Memory({ initial: 1 });
    const k = simdKernels(memory)!;
    const f = new Float32Array(memory.buffer);
    const fr = Math.fround;
    for (const [hs, scale] of [
      [8, 1 / Math.sqrt(8)],
      [6, 1],
    ]) {
      const [B, T, H, pos, rows] = [2, 3, 2, 4, 7]; // table rows 4…6
      const C = H * hs;
      const [x, cos2, sin2, y, dx] = [0, 200, 400, 600, 800]; // float offsets
      for (let i = 0; i < B * T * C; i++) f[x + i] = Math.sin(i * 0.71) * 3;
      for (let r = 0; r < rows; r++)
        for (let i = 0; i < hs; i += 2) {
          const [c, s] = [fr(Math.cos(r * (i + 1) * 0.3)), fr(Math.sin(r * (i + 1) * 0.3))];
          f.set([c, c], cos2 + r * hs + i);
          f.set([-s, s], sin2 + r * hs + i);
        }
      k.rope_heads(4 * y, 4 * x, 4 * cos2, 4 * sin2, B, T, H, hs, pos, scale);
      k.rope_heads_grad(4 * dx, 4 * y, 4 * cos2, 4 * sin2, B, T, H, hs, pos, 1);
      for (let b = 0; b < B; b++)
        for (let t = 0; t < T; t++)
          for (let h = 0; h < H; h++)
            for (let i = 0; i < hs; i += 2) {
              const tab = (pos + t) * hs + i;
              const [c, s] = [f[cos2 + tab], f[sin2 + tab + 1]];
              const src = x + (b * T + t) * C + h * hs + i;
              const dst = y + ((b * H + h) * T + t) * hs + i;
              const [x0, x1] = [f[src], f[src + 1]];
              expect(f[dst]).toBe(fr(fr(fr(x0 * c) - fr(x1 * s)) * scale));
              expect(f[dst + 1]).toBe(fr(fr(fr(x0 * s) + fr(x1 * c)) * scale));
              // the inverse rotation of y brings back x·scale
              expect(f[dx - x + src]).toBeCloseTo(x0 * scale, 5);
              expect(f[dx - x + src + 1]).toBeCloseTo(x1 * scale, 5);
            }
    }
  });

  it('gemm, relaxed and plain, equals a float64 loop over every edge of its blocking (bt 0 and 1, acc)', () => {
    expect(relaxedSimdActive()).toBe(true); // the tests' selectBackend set Node 20's flag
    // rows: one row block of 256 and 3 more (a partial strip); K: one block of 256 and 5 more; N: one panel and 5 more
    const [M, K, N] = [259, 261, 13];
    const memory = new Memory({ initial: 16 });
    const f = new Float32Array(memory.buffer);
    const [a, b, c, scratch] = [0, M * K, M * K + K * N, M * K + K * N + M * N]; // float offsets
    for (let i = 0; i < M * K + K * N; i++) f[i] = Math.sin(i * 0.37) + ((i * 13) % 7) / 10;
    const A = (m: number, k: number) => f[a + m * K + k];
    const B = (k: number, n: number, bt: boolean) => f[b + (bt ? n * K + k : k * N + n)];
    for (const relaxed of [true, false]) {
      const k = simdKernels(memory, relaxed)!;
      for (const bt of [false, true])
        for (const acc of [0, 1]) {
          f.fill(0.25, c, c + M * N);
          k.gemm(4 * a, 4 * b, 4 * c, M, K, N, bt ? 1 : 0, acc, 4 * scratch);
          for (let m = 0; m < M; m++)
            for (let n = 0; n < N; n++) {
              let want = acc ? 0.25 : 0;
              for (let j = 0; j < K; j++) want += A(m, j) * B(j, n, bt);
              expect(Math.abs(f[c + m * N + n] - want)).toBeLessThan(1e-4 * (1 + Math.abs(want)));
            }
        }
    }
    expect(simdKernels(memory, true)).not.toBe(simdKernels(memory, false)); // two instances on one memory
  });

  it('row_lse and softmax_scale against float64 loops: every tail length, large logits, a NaN row', () => {
    const memory = new Memory({ initial: 1 });
    const f = new Float32Array(memory.buffer);
    const k = simdKernels(memory)!;
    for (const n of [1, 3, 4, 7, 37]) {
      const rows = 3;
      const [x, lse, s, g] = [0, 1000, 1100, 1200]; // float offsets
      for (let i = 0; i < rows * n; i++) f[x + i] = 30 * Math.sin(i * 1.3) + (i % n === 2 ? 80 : 0);
      for (let r = 0; r < rows; r++) f[s + r] = r - 0.5;
      k.row_lse(4 * lse, 4 * x, rows, n);
      k.softmax_scale(4 * g, 4 * x, 4 * lse, 4 * s, rows, n);
      for (let r = 0; r < rows; r++) {
        const row = Array.from(f.subarray(x + r * n, x + (r + 1) * n));
        const m = Math.max(...row);
        const want = m + Math.log(row.reduce((a, v) => a + Math.exp(v - m), 0));
        expect(Math.abs(f[lse + r] - want), `n ${n} row ${r}`).toBeLessThan(
          2e-6 * Math.max(1, Math.abs(want)),
        );
        for (let j = 0; j < n; j++) {
          const p = Math.exp(row[j] - want) * f[s + r];
          expect(Math.abs(f[g + r * n + j] - p)).toBeLessThan(1e-6 * Math.max(1e-3, Math.abs(p)));
        }
      }
    }
    f.set([1, Number.NaN, 2, 3, 4], 0);
    k.row_lse(4 * 1000, 0, 1, 5);
    expect(f[1000]).toBeNaN();
  });

  it('adamw gives the bits of the float64 formula, the gradient scaled, odd lengths included', () => {
    const memory = new Memory({ initial: 1 });
    const f = new Float32Array(memory.buffer);
    const n = 13;
    const [p, g, m, v, P, M, V] = [0, 1, 2, 3, 4, 5, 6].map((i) => i * 16); // float offsets
    for (let i = 0; i < n; i++) {
      f[p + i] = Math.sin(i) * 2;
      f[g + i] = Math.cos(i * 1.7) * 10 ** ((i % 5) - 3);
      f[m + i] = Math.sin(i * 0.3) * 1e-3;
      f[v + i] = Math.abs(Math.cos(i)) * 1e-6;
    }
    const [b1, b2, decay, stepSize, sqrtBc2, eps] = [0.9, 0.999, 0.999, 1e-3 / 0.1, Math.sqrt(0.001), 1e-8];
    const scale = 0.37; // a clipping coefficient
    simdKernels(memory)!.adamw(
      4 * p,
      4 * g,
      4 * m,
      4 * v,
      4 * P,
      4 * M,
      4 * V,
      n,
      b1,
      b2,
      1 - b1,
      1 - b2,
      decay,
      stepSize,
      sqrtBc2,
      eps,
      scale,
    );
    for (let i = 0; i < n; i++) {
      const gi = scale * f[g + i];
      const mi = b1 * f[m + i] + (1 - b1) * gi;
      const vi = b2 * f[v + i] + (1 - b2) * gi * gi;
      expect([f[M + i], f[V + i]]).toEqual([Math.fround(mi), Math.fround(vi)]);
      expect(f[P + i]).toBe(
        Math.fround(f[p + i] * decay - (stepSize * mi) / (Math.sqrt(vi) / sqrtBc2 + eps)),
      );
    }
    expect(f[P + n]).toBe(0); // nothing past n
  });

  it('MOTE_RELAXED_SIMD=0 keeps the plain form; the build rewrites only relaxed_madd on locals', () => {
    try {
      expect(enableRelaxedSimd({ MOTE_RELAXED_SIMD: '0' }, '20.20.2')).toBe(false);
      expect(relaxedSimdActive()).toBe(false);
    } finally {
      enableRelaxedSimd({}, '20.20.2');
    }
    expect(relaxedSimdActive()).toBe(true);
    expect(
      withoutRelaxed('x.wat', '(f32x4.relaxed_madd (local.get $x) (local.get $b0) (local.get $c))'),
    ).toBe('(f32x4.add (local.get $c) (f32x4.mul (local.get $x) (local.get $b0)))');
    expect(() => withoutRelaxed('x.wat', '(f32x4.relaxed_min (local.get $x) (local.get $y))')).toThrow(
      /x\.wat: only .*f32x4\.relaxed_min/,
    );
  });

  it('splices a shared part where a .wat includes it, and names a missing one', async () => {
    const spliced = await withIncludes('x.wat', '(module\n  ;; include parts/exp.wat\n)');
    expect(spliced).toContain('(func $exp4');
    expect(spliced.startsWith('(module\n') && spliced.endsWith('\n)')).toBe(true);
    await expect(withIncludes('x.wat', ';; include parts/nope.wat')).rejects.toThrow(
      /x\.wat: cannot include parts\/nope\.wat/,
    );
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
