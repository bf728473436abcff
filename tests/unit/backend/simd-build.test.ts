// The committed WebAssembly modules (src/backend/simd/*-wasm.ts) are exactly what their .wat sources assemble to.
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs script without type declarations
import { assembleAll } from '../../../scripts/build-wasm.mjs';

describe('src/backend/simd', () => {
  it('each *-wasm.ts is its .wat assembled (run node scripts/build-wasm.mjs after editing a .wat)', async () => {
    const built = (await assembleAll()) as { name: string; ts: string; source: string }[];
    expect(built.map((b) => b.name)).toContain('transpose');
    for (const { ts, source } of built) expect(await readFile(ts, 'utf8')).toBe(source);
  });
});
