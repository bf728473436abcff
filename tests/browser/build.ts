// Builds a test page (a directory with index.html and the modules it loads) into a static site with Vite,
// the way an application would bundle the library. Our own code may not import Node built-ins nor use Node's
// globals (process, Buffer, setImmediate, __dirname, require): the build fails naming the module, instead of
// Vite's silent browser stub (or a ReferenceError) that breaks only when called.
import { builtinModules } from 'node:module';
import { resolve } from 'node:path';
import { build, type Plugin } from 'vite';

const NODE_BUILTINS = new Set(builtinModules);

/** Options of buildPage. */
export interface BuildPageOptions {
  /** Minify the bundle (default false: a faster build and readable stack traces in test failures). */
  minify?: boolean;
  /**
   * The page's own Vite config file (aliases, worker format, assets), as its `npm run` script builds it; the
   * root, output directory and the Node built-in check are still set here. Default: none.
   */
  configFile?: string;
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
    configFile: options.configFile ? resolve(options.configFile) : false,
    logLevel: 'error',
    plugins: [noNodeBuiltins(), noNodeGlobals()],
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

/** Node's globals, as our compiled code would use them (comments are gone by then). */
const NODE_GLOBALS = /\b(process\.|Buffer[.(]|setImmediate\(|__dirname\b|__filename\b|require\()/;

/** Fails the build when a module outside node_modules uses one of Node's globals (after TypeScript is compiled). */
function noNodeGlobals(): Plugin {
  return {
    name: 'mote-no-node-globals',
    enforce: 'post',
    transform(code, id) {
      // files of ours only: not packages, not virtual modules (the bundler's runtime)
      if (!id.startsWith('/') || id.includes('/node_modules/') || !/\.(ts|js|mjs)$/.test(id.split('?')[0]))
        return null;
      const found = NODE_GLOBALS.exec(code);
      if (found) this.error(`${id} uses '${found[1]}', a Node global that a browser page does not have`);
      return null;
    },
  };
}
