// selectBackend in a web page: WebGPU on a hardware adapter → wasm → cpu for 'auto' (select.ts walks the list). A
// software WebGPU adapter (SwiftShader, which headless Chromium offers without a GPU) is never chosen by 'auto': it
// runs on the CPU, slower than wasm. wasm is tfjs's XNNPACK build, with SIMD where the browser has it and its
// multi-threaded build when the page is cross-origin isolated (SharedArrayBuffer needs COOP/COEP headers).
import * as tf from '@tensorflow/tfjs';
import { activate, type Candidate, type Probe, probeCpu, TFJS_WASM, TFJS_WEBGPU } from './candidates.js';
import type { BackendDeps } from './deps.js';
import { registerKernels } from './kernels/index.js';
import {
  type BackendChoice,
  type BackendRegistry,
  type SelectBackendOptions as BaseOptions,
  chooseBackend,
} from './select.js';
import { backendMemory, simdUnavailable } from './simd/instance.js';

/** Options of selectBackend in a page. */
export interface SelectBackendOptions extends Omit<BaseOptions, 'quietNativeLogs'> {
  /**
   * Where tfjs's three .wasm binaries are served from: a directory URL ending in '/', or a map from each binary's
   * name (tfjs-backend-wasm.wasm, tfjs-backend-wasm-simd.wasm, tfjs-backend-wasm-threaded-simd.wasm) to its URL,
   * as a bundler emits them. Default: tfjs's own default, beside the script that loaded it.
   */
  wasmPaths?: string | Record<string, string>;
  /** XNNPACK threads of the multi-threaded wasm build. Default: tfjs's, half of navigator.hardwareConcurrency. */
  wasmThreads?: number;
}

/** The parts of the wasm package used here. */
interface WasmModule {
  setWasmPaths(paths: string | Record<string, string>): void;
  setThreadsCount(n: number): void;
  getThreadsCount(): number;
}

/** The parts of the WebGPU API used here (TypeScript's DOM library has no WebGPU types). */
interface GpuAdapterInfo {
  vendor?: string;
  architecture?: string;
  description?: string;
  isFallbackAdapter?: boolean;
}
interface GpuLike {
  requestAdapter(options?: { powerPreference?: string }): Promise<{
    info?: GpuAdapterInfo;
    isFallbackAdapter?: boolean;
  } | null>;
}

/** The page's real dependencies: the wasm package (a dependency of this library), tfjs, `globalThis`. */
export const browserBackendDeps: BackendDeps = {
  // only packages a bundler can resolve: the wasm backend is a dependency of this library; the WebGPU backend is an
  // optional peer that the page imports itself (it registers 'webgpu' on import)
  importModule: async (specifier) => {
    if (specifier === TFJS_WASM) return import('@tensorflow/tfjs-backend-wasm');
    throw new Error(`Cannot find package '${specifier}' (a page imports it itself)`);
  },
  isRegistered: (name) => tf.findBackendFactory(name) != null,
  setBackend: (name) => tf.setBackend(name),
  backendInstance: (name) => tf.findBackend(name) ?? undefined,
  env: {},
  global: globalThis as unknown as Record<string, unknown>,
};

/**
 * Picks and activates a tfjs backend in a web page, then registers the library's kernels and gradients. The choice
 * says why (the adapter, SIMD, threads and cross-origin isolation) and every attempt; `choice.kernels` lists the
 * kernels installed and those skipped with the reason (the SIMD kernels on the multi-threaded build's memory).
 * Throws ConfigError for an unknown name and BackendUnavailableError when nothing requested can run.
 */
export function selectBackend(
  options: SelectBackendOptions = {},
  deps: BackendDeps = browserBackendDeps,
): Promise<BackendChoice> {
  return chooseBackend(browserRegistry(options, deps), options, deps, deps === browserBackendDeps);
}

function browserRegistry(options: SelectBackendOptions, deps: BackendDeps): BackendRegistry {
  const candidate = (
    id: Candidate['id'],
    backend: Candidate['backend'],
    probe: () => Promise<Probe>,
  ): Candidate => ({
    id,
    backend,
    probe,
  });
  const webgpuHint = `import '${TFJS_WEBGPU}' in the page (it registers the 'webgpu' backend where navigator.gpu exists) and use a browser with WebGPU on a GPU`;
  const wasmHint = `a browser with WebAssembly (and SIMD: Chrome 91+, Firefox 89+, Safari 16.4+), and the .wasm files of ${TFJS_WASM} served (options.wasmPaths)`;
  return {
    candidates: {
      'webgpu-hardware': candidate('webgpu-hardware', 'webgpu', () => probeWebgpu(deps, true)),
      webgpu: candidate('webgpu', 'webgpu', () => probeWebgpu(deps, false)),
      wasm: candidate('wasm', 'wasm', () => probeWasm(deps, options)),
      cpu: candidate('cpu', 'cpu', () => probeCpu(deps)),
    },
    order: {
      auto: ['webgpu-hardware', 'wasm', 'cpu'],
      tensorflow: [],
      webgpu: ['webgpu'],
      wasm: ['wasm'],
      cpu: ['cpu'],
    },
    hints: {
      auto: `${webgpuHint}; or ${wasmHint}`,
      tensorflow: 'the tensorflow backend (tfjs-node) exists in Node only',
      webgpu: webgpuHint,
      wasm: wasmHint,
      cpu: 'the cpu backend is part of @tensorflow/tfjs',
    },
    finish: async (choice) => {
      const report = registerKernels();
      if (choice.name === 'wasm') {
        const instance = tf.findBackend('wasm') as
          | { wasm?: { asm?: { memory?: object }; wasmMemory?: object } }
          | undefined;
        const why = simdUnavailable(backendMemory(instance?.wasm));
        const id = 'SIMD kernels (transpose, softmax and RMSNorm gradients)@wasm';
        if (why) report.skipped.push(`${id}: ${why}; their JavaScript versions run instead`);
        else report.installed.push(id);
      }
      choice.kernels = report;
    },
  };
}

/** WebGPU on the adapter the browser offers; `hardwareOnly` refuses a software (fallback) adapter. */
async function probeWebgpu(deps: BackendDeps, hardwareOnly: boolean): Promise<Probe> {
  const info = await adapterInfo(deps);
  if (typeof info === 'string') return { ok: false, reason: info };
  const what =
    [info.vendor, info.architecture, info.description].filter(Boolean).join(' / ') ||
    (info.isFallbackAdapter ? 'a fallback adapter, no details given' : 'no details given');
  if (info.software && hardwareOnly)
    return {
      ok: false,
      reason: `the WebGPU adapter is a software one (${what}, runs on the CPU, slower than wasm); ask for backend 'webgpu' to use it anyway`,
    };
  if (!deps.isRegistered('webgpu'))
    return {
      ok: false,
      reason: `the page has a WebGPU adapter (${what}) but no 'webgpu' backend: import '${TFJS_WEBGPU}' in the page`,
    };
  if (!(await deps.setBackend('webgpu')))
    return { ok: false, reason: "the 'webgpu' backend failed to initialise" };
  return info.software
    ? {
        ok: true,
        gpu: false,
        reason: `WebGPU on a software adapter (${what})`,
        warning: `the WebGPU adapter is a software one (${what}): it runs on the CPU, slower than wasm`,
      }
    : { ok: true, gpu: true, reason: `WebGPU on a hardware adapter (${what})` };
}

/** The adapter's description, or why there is none. Asked once per page (the adapter is not kept). */
let adapter: Promise<(GpuAdapterInfo & { software: boolean }) | string> | undefined;
function adapterInfo(deps: BackendDeps): Promise<(GpuAdapterInfo & { software: boolean }) | string> {
  adapter ??= (async () => {
    const gpu = (deps.global.navigator as { gpu?: GpuLike } | undefined)?.gpu;
    if (!gpu) return 'this browser has no WebGPU (navigator.gpu is missing; it needs a secure context)';
    const found = await gpu.requestAdapter({ powerPreference: 'high-performance' }).catch(() => null);
    if (!found) return 'this browser offers no WebGPU adapter (requestAdapter() returned null)';
    // adapter.info's fields are getters: copy them (a spread would copy nothing)
    const { vendor, architecture, description } = found.info ?? {};
    const isFallbackAdapter = found.info?.isFallbackAdapter ?? found.isFallbackAdapter ?? false;
    const software = isFallbackAdapter || /swiftshader/i.test(`${architecture ?? ''} ${description ?? ''}`);
    return { vendor, architecture, description, isFallbackAdapter, software };
  })();
  return adapter;
}

/** tfjs's wasm backend, with the binaries where the page serves them; says which build runs and how. */
async function probeWasm(deps: BackendDeps, options: SelectBackendOptions): Promise<Probe> {
  if (typeof (globalThis as { WebAssembly?: unknown }).WebAssembly !== 'object')
    return { ok: false, reason: 'this browser has no WebAssembly' };
  let wasm: WasmModule;
  try {
    wasm = (await deps.importModule(TFJS_WASM)) as WasmModule;
  } catch (err) {
    return { ok: false, reason: `${TFJS_WASM} failed to load: ${(err as Error).message}` };
  }
  if (options.wasmPaths) wasm.setWasmPaths(options.wasmPaths);
  if (options.wasmThreads) wasm.setThreadsCount(options.wasmThreads);
  const probe = await activate(deps, TFJS_WASM, 'wasm', 'WebAssembly', false);
  if (!probe.ok)
    return { ...probe, reason: `${probe.reason} (are its .wasm files served? options.wasmPaths)` };
  const simd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
  const threaded = Boolean(await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT'));
  const threads = wasm.getThreadsCount();
  const isolated = Boolean((globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated);
  const build = threaded
    ? `the multi-threaded build, ${threads} thread${threads === 1 ? '' : 's'} (hardwareConcurrency ${navigatorCores()} / 2)`
    : `one thread (${isolated ? 'this browser has no WebAssembly threads' : 'the page is not cross-origin isolated: serve it with COOP/COEP headers for the multi-threaded build'})`;
  const reason = `WebAssembly with XNNPACK, ${simd ? 'SIMD' : 'no SIMD'}, ${build}`;
  return simd
    ? { ok: true, gpu: false, reason }
    : {
        ok: true,
        gpu: false,
        reason,
        warning: "this browser's WebAssembly has no SIMD: the wasm backend runs several times slower",
      };
}

function navigatorCores(): number | string {
  return (
    (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? '?'
  );
}
