// The side effects backend selection needs (dynamic imports, tfjs backend switching, environment), behind
// one interface so the choice logic is unit-tested with every import stubbed. The real ones: deps-node.ts in Node,
// select-browser.ts in a page.

/** What `selectBackend` may do to the outside world. `defaultBackendDeps` is the real thing. */
export interface BackendDeps {
  /** Dynamic `import()` of a package; rejects when it is missing or fails to load. */
  importModule(specifier: string): Promise<unknown>;
  /** Whether a tfjs backend factory named `name` is registered (with the engine this library uses). */
  isRegistered(name: string): boolean;
  /** Activates backend `name` (initialising it once); false when its initialisation fails. */
  setBackend(name: string): Promise<boolean>;
  /** The initialised backend instance `name`, or undefined. */
  backendInstance(name: string): unknown;
  /** Process environment, read and (for TF_CPP_MIN_LOG_LEVEL) written before native code loads. */
  env: Record<string, string | undefined>;
  /** The global object, where WebGPU expects `navigator.gpu` and the GPU* constants. */
  global: Record<string, unknown>;
}

/** Turns an import error into a one-line reason: not installed, binding missing, or the first error line. */
export function importFailure(pkg: string, err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const code = (err as { code?: unknown } | null)?.code;
  const firstLine = message.split('\n')[0];
  const notFound =
    code === 'ERR_MODULE_NOT_FOUND' ||
    code === 'MODULE_NOT_FOUND' ||
    /Cannot find (package|module)/.test(message);
  if (notFound && message.includes(`'${pkg}'`)) return `${pkg} is not installed`;
  if (message.includes('tfjs_binding.node')) {
    return `${pkg} is installed but its native binding is missing (its install script, which downloads libtensorflow, did not run): ${firstLine}`;
  }
  return `${pkg} failed to load: ${firstLine}`;
}
