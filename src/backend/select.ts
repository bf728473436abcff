// Backend choice as a small priority registry with lazy, cached probes and aggregated errors, after
// onnxruntime-web's js/common/lib/backend-impl.ts. 'auto' walks the list; a named backend is that one or an
// error that says what to install, never a silent fallback. The registries and their order: select-node.ts
// (tensorflow → wasm → cpu) and select-browser.ts (a hardware WebGPU adapter → wasm → cpu).

import type { MixCalibration } from '../experts/kernels/choice.js';
import { ConfigError } from '../util/errors.js';
import type { BackendName, Candidate, CandidateId, Probe } from './candidates.js';
import type { BackendDeps } from './deps.js';
import type { KernelReport } from './kernels/index.js';

export type { BackendName, CandidateId } from './candidates.js';

/** What a caller may ask for. */
export const BACKEND_REQUESTS = ['auto', 'tensorflow', 'webgpu', 'wasm', 'cpu'] as const;
/** One of BACKEND_REQUESTS. */
export type BackendRequest = (typeof BACKEND_REQUESTS)[number];

/** Options of selectBackend. */
export interface SelectBackendOptions {
  /** 'auto' (default): tensorflow on a GPU → tensorflow on the CPU → wasm → cpu. A name: exactly that backend. */
  backend?: BackendRequest;
  /** Refuse any backend that does not run on a GPU (default false). */
  requireGpu?: boolean;
  /** Set TF_CPP_MIN_LOG_LEVEL=2 before libtensorflow loads, unless already set (default true). */
  quietNativeLogs?: boolean;
  /** Receives every attempt, warnings, and the final choice. The library itself prints nothing. */
  onEvent?: (event: BackendEvent) => void;
}

/** One candidate tried. */
export interface BackendAttempt {
  name: CandidateId;
  ok: boolean;
  reason: string;
}

/** The backend now active, why, and everything tried on the way. */
export interface BackendChoice {
  /** tfjs backend name, as `tf.getBackend()` reports it. */
  name: BackendName;
  /** Whether it runs on a GPU. */
  gpu: boolean;
  reason: string;
  attempts: BackendAttempt[];
  /** On webgpu: the measurement behind the mixing kernel 'auto' uses on this device (calibrateMixKernel). */
  mixCalibration?: MixCalibration;
  /** What registerKernels did: the library's kernels installed, and any skipped with the reason. */
  kernels?: KernelReport;
}

/** Progress of selectBackend, for a CLI or log to print. */
export type BackendEvent =
  | { type: 'attempt'; attempt: BackendAttempt }
  | { type: 'warning'; message: string }
  | { type: 'selected'; choice: BackendChoice };

/** No candidate of the request could be used. The message lists every attempt and what to install. */
export class BackendUnavailableError extends Error {
  constructor(
    readonly requested: BackendRequest,
    readonly attempts: BackendAttempt[],
    readonly hint: string,
  ) {
    const lines = attempts.map((a) => `  - ${a.name}: ${a.reason}`).join('\n');
    const head =
      requested === 'auto'
        ? 'no tfjs backend could be initialised'
        : `backend '${requested}' was requested but is not available (no fallback for an explicit request)`;
    super(`${head}:\n${lines}\nTo install: ${hint}`);
    this.name = 'BackendUnavailableError';
  }
}

/** A platform's candidates: each request's trial order, and the install hint of each backend. */
export interface BackendRegistry {
  candidates: Partial<Record<CandidateId, Candidate>>;
  order: Record<BackendRequest, CandidateId[]>;
  hints: Record<BackendRequest, string>;
  /** Runs once a backend is active, with real deps only: registers the kernels, fills in the choice. */
  finish(choice: BackendChoice): Promise<void>;
}

/**
 * Walks `registry.order[request]` and activates the first candidate that works (`selectBackend` of each entry).
 * Throws ConfigError for an unknown request and BackendUnavailableError when nothing requested can run. `real`:
 * the deps are the platform's own (not a test's stubs), so the kernels are registered.
 */
export async function chooseBackend(
  registry: BackendRegistry,
  options: SelectBackendOptions,
  deps: BackendDeps,
  real: boolean,
): Promise<BackendChoice> {
  const requested = options.backend ?? 'auto';
  if (!(BACKEND_REQUESTS as readonly unknown[]).includes(requested)) {
    throw new ConfigError('backend', requested, `one of ${BACKEND_REQUESTS.map((n) => `'${n}'`).join(', ')}`);
  }
  const emit = options.onEvent ?? (() => {});
  const attempts: BackendAttempt[] = [];
  for (const id of registry.order[requested]) {
    const candidate = registry.candidates[id];
    if (!candidate) continue;
    const probe = await accepted(candidate, deps, options);
    const attempt = { name: id, ok: probe.ok, reason: probe.reason };
    attempts.push(attempt);
    emit({ type: 'attempt', attempt });
    if (probe.warning) emit({ type: 'warning', message: probe.warning });
    if (!probe.ok) continue;
    const choice: BackendChoice = { name: candidate.backend, gpu: probe.gpu, reason: probe.reason, attempts };
    // the library's kernels, once the backend is active (the wasm replacements need the package the probe imported)
    if (real) {
      await registry.finish(choice);
      // webgpu devices rank the mixing kernels differently: measure them here once (experts/kernels/calibrate.ts)
      if (candidate.backend === 'webgpu')
        choice.mixCalibration = await (await import('../experts/kernels/calibrate.js')).calibrateMixKernel();
    }
    emit({ type: 'selected', choice });
    return choice;
  }
  throw new BackendUnavailableError(requested, attempts, registry.hints[requested]);
}

/** The cached probe, re-activated (the active backend may have changed since), filtered by requireGpu. */
async function accepted(
  candidate: Candidate,
  deps: BackendDeps,
  options: SelectBackendOptions,
): Promise<Probe> {
  const probe = await cachedProbe(candidate, deps, options.quietNativeLogs ?? true);
  if (!probe.ok) return probe;
  if (options.requireGpu && !probe.gpu)
    return { ...probe, ok: false, reason: `${probe.reason}; no GPU (requireGpu)` };
  if (!(await deps.setBackend(candidate.backend))) {
    return { ok: false, reason: `the '${candidate.backend}' backend could not be re-activated` };
  }
  return probe;
}

/** Probe results per deps object: each candidate loads and initialises at most once (lazy, like ORT). */
const probeCache = new WeakMap<BackendDeps, Map<CandidateId, Promise<Probe>>>();

function cachedProbe(candidate: Candidate, deps: BackendDeps, quietNativeLogs: boolean): Promise<Probe> {
  let cache = probeCache.get(deps);
  if (!cache) probeCache.set(deps, (cache = new Map()));
  let probe = cache.get(candidate.id);
  if (!probe) {
    probe = candidate.probe(deps, { quietNativeLogs }).catch((err: unknown) => ({
      ok: false as const,
      reason: `probe failed: ${err instanceof Error ? err.message : String(err)}`,
    }));
    cache.set(candidate.id, probe);
  }
  return probe;
}
