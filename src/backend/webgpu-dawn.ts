// navigator.gpu for Node through Dawn (npm package `webgpu`), with the two fixes tfjs-backend-webgpu 4.22.0
// needs there. Untested on real hardware here (no GPU adapter in CI); the missing-package paths are tested.
import { type BackendDeps, importFailure } from './deps.js';

/** The parts of a WebGPU adapter tfjs-backend-webgpu 4.22.0 touches. */
interface AdapterLike {
  requestDevice(descriptor?: { requiredFeatures?: Iterable<unknown> }): Promise<unknown>;
  requestAdapterInfo?: () => Promise<unknown>;
  info?: unknown;
}

/** The parts of `navigator.gpu` it touches. */
interface GpuLike {
  requestAdapter(options?: unknown): Promise<AdapterLike | null>;
}

/**
 * Makes `navigator.gpu` available (it must exist before tfjs-backend-webgpu is imported, which registers
 * the backend only if it does). Returns undefined when ready, else why not. Note: while Dawn's `gpu` object
 * is referenced from `navigator`, Node does not exit on its own.
 */
export async function ensureNavigatorGpu(deps: BackendDeps): Promise<string | undefined> {
  const navigator = deps.global.navigator as { gpu?: unknown } | undefined;
  if (navigator?.gpu) return undefined;
  let mod: { create?: (flags: string[]) => GpuLike; globals?: object; default?: unknown };
  try {
    mod = (await deps.importModule('webgpu')) as typeof mod;
  } catch (err) {
    return `no navigator.gpu, and ${importFailure('webgpu', err)} (Dawn provides WebGPU in Node)`;
  }
  const dawn = (typeof mod.create === 'function' ? mod : mod.default) as typeof mod | undefined;
  if (typeof dawn?.create !== 'function') return "the 'webgpu' package has no create() export";
  Object.assign(deps.global, dawn.globals ?? {}); // GPUBufferUsage, GPUMapMode, … used by the backend
  const gpu = patchGpu(dawn.create([]));
  if (navigator && Object.isExtensible(navigator)) {
    Object.defineProperty(navigator, 'gpu', { value: gpu, configurable: true });
  } else {
    Object.defineProperty(deps.global, 'navigator', { value: { gpu }, configurable: true, writable: true });
  }
  return undefined;
}

/** Wraps `gpu` so every adapter it returns is patched. */
function patchGpu(gpu: GpuLike): GpuLike {
  return delegate(gpu, {
    requestAdapter: async (options?: unknown) => {
      const adapter = await gpu.requestAdapter(options);
      return adapter && patchAdapter(adapter);
    },
  });
}

/**
 * Fix 1: tfjs-backend-webgpu 4.22.0 pushes ['bgra8unorm-storage'] (an array) into requiredFeatures, which
 * Dawn rejects with a TypeError: flatten the list. Fix 2: newer Dawn has `adapter.info` instead of
 * `requestAdapterInfo()`, which the backend still calls.
 */
function patchAdapter(adapter: AdapterLike): AdapterLike {
  return delegate(adapter, {
    requestDevice: (descriptor?: { requiredFeatures?: Iterable<unknown> }) => {
      const requiredFeatures = Array.from(descriptor?.requiredFeatures ?? []).flat();
      return adapter.requestDevice({ ...descriptor, requiredFeatures });
    },
    requestAdapterInfo: adapter.requestAdapterInfo?.bind(adapter) ?? (async () => adapter.info),
  });
}

/** A proxy that answers `overrides` itself and forwards the rest, bound to the native object. */
function delegate<T extends object>(target: T, overrides: Record<string, unknown>): T {
  return new Proxy(target, {
    get(obj, key) {
      if (typeof key === 'string' && key in overrides) return overrides[key];
      const value = Reflect.get(obj, key, obj); // receiver = the native object: its getters reject proxies
      return typeof value === 'function' ? value.bind(obj) : value;
    },
  });
}
