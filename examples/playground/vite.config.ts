// The playground's build: `npm run playground` serves it (cross-origin isolated, so tfjs runs its multi-threaded
// wasm build), `npm run build:playground` writes the static site to out/playground/. 'mote-tfjs' is this
// repository's browser entry, as an application that installed the package would get it.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

/** COOP/COEP: SharedArrayBuffer, hence wasm threads. A static host must send the same headers for threads. */
const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

export default defineConfig({
  root: here('.'),
  base: './',
  resolve: { alias: { 'mote-tfjs': here('../../src/browser.ts') } },
  // the model worker is an ES module (it imports tfjs and the library)
  worker: { format: 'es' },
  build: {
    outDir: here('../../out/playground'),
    emptyOutDir: true,
    target: 'es2022',
    // the model, tokenizer, chains and .wasm files stay files (fetched by URL), never inlined as data: URLs
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 100_000,
  },
  server: { headers: isolation, fs: { allow: [here('../..')] } },
  preview: { headers: isolation },
});
