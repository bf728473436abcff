// Builds a test page (a directory with index.html and the modules it loads) into a static site with Vite,
// the way an application would bundle the library. Our own code may not import Node built-ins: the build
// fails naming the importer, instead of Vite's silent browser stub that breaks only when called.
import { builtinModules } from 'node:module';
import { resolve } from 'node:path';
import { build, type Plugin } from 'vite';

const NODE_BUILTINS = new Set(builtinModules);

/** Options of buildPage. */
export interface BuildPageOptions {
  /** Minify the bundle (default false: a faster build and readable stack traces in test failures). */
  minify?: boolean;
}

/** Bundles `root`/index.html into `outDir` (emptied first) and returns the bundle's file names. */
export async function buildPage(
  root: string,
  outDir: string,
  options: BuildPageOptions = {},
): Promise<string[]> {
  const output = await build({
    root: resolve(root),
    base: './',
    configFile: false,
    logLevel: 'error',
    plugins: [noNodeBuiltins()],
    build: {
      outDir: resolve(outDir), // Vite would take a relative outDir relative to root
      emptyOutDir: true,
      target: 'es2022',
      minify: options.minify ?? false,
      reportCompressedSize: false,
      chunkSizeWarningLimit: 100_000,
    },
  });
  const results = Array.isArray(output) ? output : [output];
  return results.flatMap((r) => ('output' in r ? r.output.map((o) => o.fileName) : []));
}

/**
 * Fails the build when a module outside node_modules imports a Node built-in. Packages are left alone: tfjs
 * maps its optional Node imports away with its package.json "browser" field, which Vite honours.
 */
function noNodeBuiltins(): Plugin {
  return {
    name: 'mote-no-node-builtins',
    enforce: 'pre',
    resolveId(id, importer) {
      const bare = id.startsWith('node:') ? id.slice(5) : id;
      if (!importer || importer.includes('/node_modules/')) return null;
      if (!id.startsWith('node:') && !NODE_BUILTINS.has(bare)) return null;
      this.error(`${importer} imports '${id}', a Node built-in that a browser page does not have`);
    },
  };
}
