// The backends selectBackend can try, each with a lazy probe that loads and initialises it and says why it
// can or cannot be used. Probes never throw and never print; they report a reason.
import { type BackendDeps, importFailure } from './deps.js';
import { ensureNavigatorGpu } from './webgpu-dawn.js';

/** tfjs backend names a choice can end on. */
export type BackendName = 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';

/**
 * What was tried: the native TensorFlow backend counts twice, with and without a GPU; in a page, WebGPU on a
 * hardware adapter ('auto') apart from WebGPU on any adapter (asked for by name).
 */
export type CandidateId = 'tensorflow-gpu' | 'tensorflow-cpu' | 'webgpu-hardware' | 'webgpu' | 'wasm' | 'cpu';

/** Outcome of one probe. `warning` is something the user should hear about even when another backend wins. */
export type Probe =
  | { ok: true; reason: string; gpu: boolean; warning?: string }
  | { ok: false; reason: string; warning?: string };

/** One entry of the registry: which tfjs backend it ends on and how to probe it. */
export interface Candidate {
  id: CandidateId;
  backend: BackendName;
  probe(deps: BackendDeps, opts: ProbeOptions): Promise<Probe>;
}

/** Options a probe honours. */
export interface ProbeOptions {
  /** Set TF_CPP_MIN_LOG_LEVEL=2 (unless set) before libtensorflow loads, silencing its info and warning lines. */
  quietNativeLogs: boolean;
}

export const TFJS_NODE_GPU = '@tensorflow/tfjs-node-gpu';
export const TFJS_NODE = '@tensorflow/tfjs-node';
export const TFJS_WASM = '@tensorflow/tfjs-backend-wasm';
export const TFJS_WEBGPU = '@tensorflow/tfjs-backend-webgpu';

/** What to install for each requestable backend, with the traps that make a plain `npm i` not enough. */
export const INSTALL_HINTS: Record<BackendName, string> = {
  tensorflow:
    `npm i ${TFJS_NODE_GPU}@4.22.0 (CUDA GPU; needs CUDA 11.2 and cuDNN 8.1 on the library path), ` +
    `or npm i ${TFJS_NODE}@4.22.0 (native CPU). Their install script downloads libtensorflow 2.9.1, so npm ` +
    `must be allowed to run it: npm approve-scripts ${TFJS_NODE_GPU} (npm >= 11.16 records this under ` +
    `"allowScripts" in package.json; npm 12 skips unapproved install scripts), then npm rebuild ` +
    `${TFJS_NODE_GPU}. The version must match @tensorflow/tfjs 4.22.0.`,
  webgpu:
    `npm i ${TFJS_WEBGPU}@4.22.0 webgpu (the 'webgpu' package is Dawn, which provides navigator.gpu in Node; ` +
    `it needs a Vulkan, Metal or D3D12 GPU adapter)`,
  wasm: `npm i ${TFJS_WASM}@4.22.0`,
  cpu: 'npm i @tensorflow/tfjs@4.22.0 (the cpu backend is part of it)',
};

/** The registry. Order of trial lives in select.ts. */
export const CANDIDATES: Partial<Record<CandidateId, Candidate>> = {
  'tensorflow-gpu': { id: 'tensorflow-gpu', backend: 'tensorflow', probe: probeTensorflowGpu },
  'tensorflow-cpu': { id: 'tensorflow-cpu', backend: 'tensorflow', probe: probeTensorflowCpu },
  webgpu: { id: 'webgpu', backend: 'webgpu', probe: probeWebgpu },
  wasm: { id: 'wasm', backend: 'wasm', probe: probeWasm },
  cpu: { id: 'cpu', backend: 'cpu', probe: probeCpu },
};

/**
 * tfjs-node-gpu, accepted only when TensorFlow really sees a GPU. Without CUDA it does not throw: it logs
 * dso_loader warnings and runs on the CPU. The check reads `isUsingGpuDevice` of the 'tensorflow' backend
 * instance (tfjs-node's NodeJSKernelBackend copies it from its binding, which sets it when
 * TFE_ContextListDevices lists a device of type "GPU"; see tfjs-node/binding/tfjs_backend.cc).
 */
async function probeTensorflowGpu(deps: BackendDeps, opts: ProbeOptions): Promise<Probe> {
  const failed = await loadTensorflow(deps, TFJS_NODE_GPU, opts);
  if (failed) return { ok: false, reason: failed };
  if (tensorflowSource(deps) === TFJS_NODE) {
    return { ok: false, reason: `'tensorflow' is already registered by ${TFJS_NODE}, the CPU build` };
  }
  const gpu = gpuVisible(deps);
  if (gpu === true) return { ok: true, gpu: true, reason: 'native TensorFlow on a CUDA GPU' };
  const why =
    gpu === undefined
      ? "the 'tensorflow' backend does not report isUsingGpuDevice, so a GPU cannot be confirmed"
      : 'TensorFlow lists no GPU device (CUDA 11.2 and cuDNN 8.1 libraries must be on the library path)';
  return {
    ok: false,
    reason: `${TFJS_NODE_GPU} loaded but ${why}`,
    warning: `${TFJS_NODE_GPU} is installed but ${why}; it would run on the CPU`,
  };
}

/** Native TensorFlow on the CPU: the backend tfjs-node-gpu already registered, or else tfjs-node. */
async function probeTensorflowCpu(deps: BackendDeps, opts: ProbeOptions): Promise<Probe> {
  const failed = await loadTensorflow(deps, TFJS_NODE, opts);
  if (failed) return { ok: false, reason: failed };
  const gpu = gpuVisible(deps) === true;
  return {
    ok: true,
    gpu,
    reason: `native TensorFlow on the ${gpu ? 'GPU' : 'CPU'} (from ${tensorflowSource(deps)})`,
  };
}

/**
 * Imports a tfjs-node package (which registers and activates 'tensorflow' on import) unless a 'tensorflow'
 * backend is registered already, since two registrations clash. Returns the failure reason, or undefined.
 */
async function loadTensorflow(
  deps: BackendDeps,
  pkg: string,
  opts: ProbeOptions,
): Promise<string | undefined> {
  if (!deps.isRegistered('tensorflow')) {
    if (opts.quietNativeLogs && deps.env.TF_CPP_MIN_LOG_LEVEL === undefined)
      deps.env.TF_CPP_MIN_LOG_LEVEL = '2';
    try {
      await deps.importModule(pkg);
    } catch (err) {
      return importFailure(pkg, err);
    }
    if (!deps.isRegistered('tensorflow')) {
      return `${pkg} loaded but registered no 'tensorflow' backend with this library's @tensorflow/tfjs (versions must match 4.22.0)`;
    }
  }
  if (!(await deps.setBackend('tensorflow')))
    return `the 'tensorflow' backend from ${pkg} failed to initialise`;
  return undefined;
}

/** Which package registered 'tensorflow', from tfjs-node's `isGPUPackage` flag. */
function tensorflowSource(deps: BackendDeps): string {
  const instance = deps.backendInstance('tensorflow') as { isGPUPackage?: unknown } | undefined;
  if (typeof instance?.isGPUPackage !== 'boolean') return "the registered 'tensorflow' backend";
  return instance.isGPUPackage ? TFJS_NODE_GPU : TFJS_NODE;
}

/** true / false from tfjs-node's backend flag; undefined when the instance has no such flag. */
function gpuVisible(deps: BackendDeps): boolean | undefined {
  const instance = deps.backendInstance('tensorflow') as { isUsingGpuDevice?: unknown } | undefined;
  const flag = instance?.isUsingGpuDevice;
  return typeof flag === 'boolean' ? flag : undefined;
}

/** WebGPU through tfjs-backend-webgpu, with Dawn's navigator.gpu under Node. Only on explicit request. */
async function probeWebgpu(deps: BackendDeps): Promise<Probe> {
  const noGpu = await ensureNavigatorGpu(deps);
  if (noGpu) return { ok: false, reason: noGpu };
  return activate(deps, TFJS_WEBGPU, 'webgpu', 'WebGPU', true);
}

/** The wasm backend (a dependency of this library, so normally present). */
async function probeWasm(deps: BackendDeps): Promise<Probe> {
  return activate(deps, TFJS_WASM, 'wasm', 'WebAssembly with XNNPACK (one thread under Node)', false);
}

/** The plain-JavaScript cpu backend bundled with @tensorflow/tfjs: slow, the numeric reference. */
export async function probeCpu(deps: BackendDeps): Promise<Probe> {
  if (await deps.setBackend('cpu'))
    return { ok: true, gpu: false, reason: 'plain JavaScript kernels (slow)' };
  return { ok: false, reason: "the 'cpu' backend failed to initialise" };
}

/** Imports `pkg` (which registers backend `name` on import), then activates the backend. */
export async function activate(
  deps: BackendDeps,
  pkg: string,
  name: string,
  what: string,
  gpu: boolean,
): Promise<Probe> {
  try {
    await deps.importModule(pkg);
  } catch (err) {
    return { ok: false, reason: importFailure(pkg, err) };
  }
  if (!deps.isRegistered(name))
    return { ok: false, reason: `${pkg} loaded but registered no '${name}' backend` };
  if (!(await deps.setBackend(name)))
    return { ok: false, reason: `the '${name}' backend failed to initialise` };
  return { ok: true, gpu, reason: what };
}
