import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import type { BackendDeps } from '../../../src/backend/deps.js';
import { importFailure } from '../../../src/backend/deps.js';
import {
  type BackendEvent,
  BackendUnavailableError,
  type SelectBackendOptions,
} from '../../../src/backend/select.js';
import { selectBackend } from '../../../src/backend/select-node.js';
import { ConfigError } from '../../../src/util/errors.js';

/** A fake world: which packages import, what they register, which GPU TensorFlow sees. */
interface World {
  /** Package → what importing it does (missing packages reject like Node's ESM loader). */
  packages?: Record<string, (deps: FakeDeps) => void>;
  /** Backends whose initialisation fails. */
  failInit?: string[];
  env?: Record<string, string | undefined>;
  global?: Record<string, unknown>;
}

type FakeDeps = BackendDeps & {
  imported: string[];
  instances: Map<string, unknown>;
  active: string | undefined;
  registered: Set<string>;
};

function fakeDeps(world: World): FakeDeps {
  const deps: FakeDeps = {
    imported: [],
    instances: new Map(),
    registered: new Set(['cpu', 'webgl']),
    active: undefined,
    env: world.env ?? {},
    global: world.global ?? {},
    async importModule(specifier) {
      deps.imported.push(specifier);
      const load = world.packages?.[specifier];
      if (!load) {
        const err = new Error(`Cannot find package '${specifier}' imported from /app/src/backend/deps.ts`);
        throw Object.assign(err, { code: 'ERR_MODULE_NOT_FOUND' });
      }
      load(deps);
      return {};
    },
    isRegistered: (name) => deps.registered.has(name),
    async setBackend(name) {
      if (!deps.registered.has(name) || world.failInit?.includes(name)) return false;
      deps.active = name;
      return true;
    },
    backendInstance: (name) => deps.instances.get(name),
  };
  return deps;
}

/** What importing tfjs-node(-gpu) does: register 'tensorflow', whose instance reports the GPU flag. */
const tfjsNode =
  (gpuPackage: boolean, isUsingGpuDevice: boolean) =>
  (deps: FakeDeps): void => {
    deps.registered.add('tensorflow');
    deps.instances.set('tensorflow', { isGPUPackage: gpuPackage, isUsingGpuDevice });
    deps.active = 'tensorflow';
  };
const registers = (name: string) => (deps: FakeDeps) => void deps.registered.add(name);

const GPU = '@tensorflow/tfjs-node-gpu';
const NODE = '@tensorflow/tfjs-node';
const WASM = '@tensorflow/tfjs-backend-wasm';
const WEBGPU = '@tensorflow/tfjs-backend-webgpu';

async function select(world: World, options: SelectBackendOptions = {}) {
  const deps = fakeDeps(world);
  const events: BackendEvent[] = [];
  const choice = await selectBackend({ ...options, onEvent: (e) => events.push(e) }, deps);
  return { choice, deps, events };
}

async function selectError(world: World, options: SelectBackendOptions) {
  const deps = fakeDeps(world);
  const err = await selectBackend(options, deps).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(BackendUnavailableError);
  return { err: err as BackendUnavailableError, deps };
}

describe('selectBackend auto', () => {
  it('takes tfjs-node-gpu when TensorFlow sees a GPU', async () => {
    const { choice, deps } = await select({
      packages: { [GPU]: tfjsNode(true, true), [WASM]: registers('wasm') },
    });
    expect(choice).toMatchObject({ name: 'tensorflow', gpu: true });
    expect(choice.attempts).toEqual([
      { name: 'tensorflow-gpu', ok: true, reason: 'native TensorFlow on a CUDA GPU' },
    ]);
    expect(deps.active).toBe('tensorflow');
    expect(deps.imported).toEqual([GPU]);
  });

  it('records the missing GPU and uses the loaded package on the CPU, without importing tfjs-node', async () => {
    const packages = {
      [GPU]: tfjsNode(true, false),
      [NODE]: tfjsNode(false, false),
      [WASM]: registers('wasm'),
    };
    const { choice, deps, events } = await select({ packages });
    expect(choice).toMatchObject({ name: 'tensorflow', gpu: false });
    expect(choice.reason).toBe(`native TensorFlow on the CPU (from ${GPU})`);
    expect(choice.attempts[0]).toEqual({
      name: 'tensorflow-gpu',
      ok: false,
      reason: `${GPU} loaded but TensorFlow lists no GPU device (CUDA 11.2 and cuDNN 8.1 libraries must be on the library path)`,
    });
    expect(choice.attempts[1]).toMatchObject({ name: 'tensorflow-cpu', ok: true });
    expect(deps.imported).toEqual([GPU]);
    const warnings = events.filter((e) => e.type === 'warning');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ message: expect.stringContaining('it would run on the CPU') });
  });

  it('does not accept a tensorflow backend that cannot report its device as a GPU', async () => {
    const noFlag = (d: FakeDeps) => {
      tfjsNode(true, true)(d);
      d.instances.set('tensorflow', {});
    };
    const { choice } = await select({ packages: { [GPU]: noFlag, [WASM]: registers('wasm') } });
    expect(choice.attempts[0].reason).toContain('does not report isUsingGpuDevice');
    expect(choice.attempts[1]).toMatchObject({ name: 'tensorflow-cpu', ok: true });
    expect(choice.gpu).toBe(false);
  });

  it('falls to tfjs-node (native CPU) when the GPU package is missing', async () => {
    const { choice, deps } = await select({
      packages: { [NODE]: tfjsNode(false, false), [WASM]: registers('wasm') },
    });
    expect(choice).toMatchObject({
      name: 'tensorflow',
      gpu: false,
      reason: `native TensorFlow on the CPU (from ${NODE})`,
    });
    expect(choice.attempts.map((a) => [a.name, a.ok, a.reason])).toEqual([
      ['tensorflow-gpu', false, `${GPU} is not installed`],
      ['tensorflow-cpu', true, choice.reason],
    ]);
    expect(deps.imported).toEqual([GPU, NODE]);
  });

  it('uses a tfjs-node (CPU build) the application imported itself, without importing the GPU package', async () => {
    const deps = fakeDeps({ packages: { [GPU]: tfjsNode(true, true) } });
    tfjsNode(false, false)(deps);
    const choice = await selectBackend({}, deps);
    expect(choice).toMatchObject({
      name: 'tensorflow',
      gpu: false,
      reason: `native TensorFlow on the CPU (from ${NODE})`,
    });
    expect(choice.attempts[0].reason).toBe(`'tensorflow' is already registered by ${NODE}, the CPU build`);
    expect(deps.imported).toEqual([]);
  });

  it('falls to wasm when no native TensorFlow is installed, recording why', async () => {
    const { choice, events } = await select({ packages: { [WASM]: registers('wasm') } });
    expect(choice).toMatchObject({ name: 'wasm', gpu: false });
    expect(choice.attempts.map((a) => [a.name, a.ok, a.reason])).toEqual([
      ['tensorflow-gpu', false, `${GPU} is not installed`],
      ['tensorflow-cpu', false, `${NODE} is not installed`],
      ['wasm', true, choice.reason],
    ]);
    expect(events.map((e) => e.type)).toEqual(['attempt', 'attempt', 'attempt', 'selected']);
  });

  it('explains a tfjs-node install whose native binding was never downloaded', async () => {
    const brokenBinding = () => {
      throw new Error(
        'The Node.js native addon module (tfjs_binding.node) can not be found at path: /x/napi-v8',
      );
    };
    const { choice } = await select({ packages: { [GPU]: brokenBinding, [WASM]: registers('wasm') } });
    expect(choice.attempts[0].reason).toMatch(
      /native binding is missing \(its install script.*did not run\)/,
    );
    expect(choice.name).toBe('wasm');
  });

  it('reports a tfjs-node that registered with another copy of tfjs (version mismatch)', async () => {
    const { choice } = await select({ packages: { [GPU]: () => {}, [WASM]: registers('wasm') } });
    expect(choice.attempts[0].reason).toContain("registered no 'tensorflow' backend");
    expect(choice.attempts[0].reason).toContain('4.22.0');
  });

  it('falls to cpu when wasm fails to initialise', async () => {
    const { choice } = await select({ packages: { [WASM]: registers('wasm') }, failInit: ['wasm'] });
    expect(choice.name).toBe('cpu');
    expect(choice.attempts[2]).toEqual({
      name: 'wasm',
      ok: false,
      reason: "the 'wasm' backend failed to initialise",
    });
  });

  it('probes each candidate once per deps object, but re-activates the choice every call', async () => {
    const deps = fakeDeps({ packages: { [WASM]: registers('wasm') } });
    await selectBackend({}, deps);
    deps.active = 'cpu';
    const again = await selectBackend({}, deps);
    expect(again.name).toBe('wasm');
    expect(deps.active).toBe('wasm');
    expect(deps.imported).toEqual([GPU, NODE, WASM]);
  });

  it('quiets libtensorflow logs unless the user set the level', async () => {
    const env: Record<string, string | undefined> = {};
    await select({ env, packages: { [WASM]: registers('wasm') } });
    expect(env.TF_CPP_MIN_LOG_LEVEL).toBe('2');
    const userEnv = { TF_CPP_MIN_LOG_LEVEL: '0' };
    await select({ env: userEnv, packages: { [WASM]: registers('wasm') } });
    expect(userEnv.TF_CPP_MIN_LOG_LEVEL).toBe('0');
    const untouched: Record<string, string | undefined> = {};
    await select({ env: untouched, packages: { [WASM]: registers('wasm') } }, { quietNativeLogs: false });
    expect(untouched.TF_CPP_MIN_LOG_LEVEL).toBeUndefined();
  });
});

describe('selectBackend explicit', () => {
  it('throws with exact install instructions when tensorflow is missing, and never falls back', async () => {
    const { err, deps } = await selectError(
      { packages: { [WASM]: registers('wasm') } },
      { backend: 'tensorflow' },
    );
    expect(err.message).toContain("backend 'tensorflow' was requested but is not available");
    expect(err.message).toContain(`tensorflow-gpu: ${GPU} is not installed`);
    expect(err.message).toContain(`tensorflow-cpu: ${NODE} is not installed`);
    expect(err.message).toContain(`npm i ${GPU}@4.22.0`);
    expect(err.message).toContain('CUDA 11.2 and cuDNN 8.1');
    expect(err.message).toContain(`npm approve-scripts ${GPU}`);
    expect(err.message).toContain('downloads libtensorflow');
    expect(err.requested).toBe('tensorflow');
    expect(err.attempts).toHaveLength(2);
    expect(deps.imported).not.toContain(WASM);
    expect(deps.active).toBeUndefined();
  });

  it('accepts tensorflow without a GPU when asked for tensorflow, with a warning; refuses it under requireGpu', async () => {
    const world = { packages: { [GPU]: tfjsNode(true, false) } };
    const { choice, events } = await select(world, { backend: 'tensorflow' });
    expect(choice).toMatchObject({ name: 'tensorflow', gpu: false });
    expect(events.some((e) => e.type === 'warning')).toBe(true);
    const { err } = await selectError(world, { backend: 'tensorflow', requireGpu: true });
    expect(err.message).toContain('no GPU (requireGpu)');
  });

  it('requireGpu in auto mode ends in an error when no GPU backend exists', async () => {
    const { err } = await selectError({ packages: { [WASM]: registers('wasm') } }, { requireGpu: true });
    expect(err.message).toContain('no tfjs backend could be initialised');
    expect(err.attempts.map((a) => a.name)).toEqual(['tensorflow-gpu', 'tensorflow-cpu', 'wasm', 'cpu']);
  });

  it('webgpu: names Dawn and the tfjs package when navigator.gpu is missing', async () => {
    const { err, deps } = await selectError(
      { packages: { [WASM]: registers('wasm') } },
      { backend: 'webgpu' },
    );
    expect(err.message).toContain('no navigator.gpu, and webgpu is not installed');
    expect(err.message).toContain(`npm i ${WEBGPU}@4.22.0 webgpu`);
    expect(deps.imported).toEqual(['webgpu']);
  });

  it('webgpu: names the tfjs package when navigator.gpu exists but the backend package is missing', async () => {
    const global = { navigator: { gpu: {} } };
    const { err } = await selectError({ global }, { backend: 'webgpu' });
    expect(err.attempts).toEqual([{ name: 'webgpu', ok: false, reason: `${WEBGPU} is not installed` }]);
  });

  it('webgpu: installs Dawn as navigator.gpu and flattens the requiredFeatures tfjs 4.22 nests', async () => {
    const requested: unknown[] = [];
    const adapter = {
      info: { vendor: 'fake' },
      requestDevice: async (d: unknown) => void requested.push(d),
    };
    const dawn = {
      create: () => ({ requestAdapter: async () => adapter }),
      globals: { GPUBufferUsage: { STORAGE: 128 } },
    };
    const global: Record<string, unknown> = {};
    const deps = fakeDeps({ global, packages: { [WEBGPU]: registers('webgpu') } });
    deps.importModule = async (spec) => {
      if (spec === 'webgpu') return dawn;
      deps.imported.push(spec);
      deps.registered.add('webgpu');
      return {};
    };
    const choice = await selectBackend({ backend: 'webgpu' }, deps);
    expect(choice).toMatchObject({ name: 'webgpu', gpu: true });
    expect(global.GPUBufferUsage).toEqual({ STORAGE: 128 });
    // What tfjs-backend-webgpu 4.22.0 does when it initialises:
    type Patched = typeof adapter & { requestAdapterInfo(): Promise<unknown> };
    const gpu = (global.navigator as { gpu: { requestAdapter(): Promise<Patched> } }).gpu;
    const patched = await gpu.requestAdapter();
    await patched.requestDevice({ requiredFeatures: ['timestamp-query', ['bgra8unorm-storage']] });
    expect(requested).toEqual([{ requiredFeatures: ['timestamp-query', 'bgra8unorm-storage'] }]);
    expect(await patched.requestAdapterInfo()).toEqual({ vendor: 'fake' });
  });

  it('wasm and cpu: exactly that backend or an error', async () => {
    expect((await select({ packages: { [WASM]: registers('wasm') } }, { backend: 'cpu' })).choice.name).toBe(
      'cpu',
    );
    const { err } = await selectError({}, { backend: 'wasm' });
    expect(err.message).toContain(`wasm: ${WASM} is not installed`);
    expect(err.message).toContain(`npm i ${WASM}@4.22.0`);
  });

  it('rejects an unknown name, naming the value and the allowed ones', async () => {
    const err = await selectBackend({ backend: 'gpu' as never }, fakeDeps({})).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toBe(
      `invalid config: backend = "gpu"; expected one of 'auto', 'tensorflow', 'webgpu', 'wasm', 'cpu'`,
    );
  });
});

describe('importFailure', () => {
  it('tells a missing package from a failing dependency of it', () => {
    const missing = Object.assign(new Error(`Cannot find package '${GPU}' imported from /a.js`), {
      code: 'ERR_MODULE_NOT_FOUND',
    });
    expect(importFailure(GPU, missing)).toBe(`${GPU} is not installed`);
    const depMissing = Object.assign(
      new Error("Cannot find module '@mapbox/node-pre-gyp'\nRequire stack: …"),
      {
        code: 'MODULE_NOT_FOUND',
      },
    );
    expect(importFailure(GPU, depMissing)).toBe(
      `${GPU} failed to load: Cannot find module '@mapbox/node-pre-gyp'`,
    );
  });
});

describe('selectBackend with the real tfjs', () => {
  afterAll(async () => {
    await tf.setBackend('wasm');
  });

  it('activates what it returns', async () => {
    const cpu = await selectBackend({ backend: 'cpu' });
    expect(cpu).toMatchObject({ name: 'cpu', gpu: false });
    expect(tf.getBackend()).toBe('cpu');
    const auto = await selectBackend();
    expect(tf.getBackend()).toBe(auto.name);
    expect(auto.attempts[0].name).toBe('tensorflow-gpu');
    expect(auto.attempts.at(-1)).toMatchObject({ ok: true, reason: auto.reason });
  });
});
