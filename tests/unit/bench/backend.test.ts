// mote bench's device check with the native modules stubbed (tfjs-node-gpu cannot be installed here): the
// device comes from tfjs-node's isUsingGpuDevice, and tensorflow-gpu on the CPU fails unless allowed.
import { describe, expect, it } from 'vitest';
import type { BackendDeps } from '../../../src/backend/deps.js';
import { BackendUnavailableError } from '../../../src/backend/select.js';
import { GpuFallbackError, selectBenchBackend } from '../../../src/bench/backend.js';

const GPU = '@tensorflow/tfjs-node-gpu';
const NODE = '@tensorflow/tfjs-node';
const WASM = '@tensorflow/tfjs-backend-wasm';

/** Packages that import (each registers a backend; tfjs-node's instance reports the GPU flag). */
function fakeDeps(packages: Record<string, { registers: string; gpuPackage?: boolean; gpu?: boolean }>) {
  const registered = new Set(['cpu']);
  const instances = new Map<string, unknown>();
  const deps: BackendDeps = {
    env: {},
    global: {},
    async importModule(specifier) {
      const p = packages[specifier];
      if (!p) {
        const err = new Error(`Cannot find package '${specifier}' imported from /app/src/backend/deps.ts`);
        throw Object.assign(err, { code: 'ERR_MODULE_NOT_FOUND' });
      }
      registered.add(p.registers);
      if (p.registers === 'tensorflow')
        instances.set('tensorflow', { isGPUPackage: p.gpuPackage, isUsingGpuDevice: p.gpu });
      return {};
    },
    isRegistered: (name) => registered.has(name),
    setBackend: async (name) => registered.has(name),
    backendInstance: (name) => instances.get(name),
  };
  return deps;
}

const gpuPackage = (gpu: boolean) => ({ registers: 'tensorflow', gpuPackage: true, gpu });

describe('selectBenchBackend', () => {
  it('tensorflow-gpu on a GPU: device gpu', async () => {
    const r = await selectBenchBackend('tensorflow-gpu', {}, fakeDeps({ [GPU]: gpuPackage(true) }));
    expect(r).toMatchObject({ device: 'gpu', choice: { name: 'tensorflow', gpu: true } });
    expect(r.fallback).toBeUndefined();
  });

  it('tensorflow-gpu that fell back to the CPU (CUDA libraries missing) fails, naming what to check', async () => {
    const err = await selectBenchBackend('tensorflow-gpu', {}, fakeDeps({ [GPU]: gpuPackage(false) })).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(GpuFallbackError);
    const message = (err as Error).message;
    expect(message).toContain('TensorFlow is running on the CPU');
    expect(message).toContain('TensorFlow lists no GPU device');
    expect(message).toContain('nvidia-smi');
    expect(message).toContain('libcudnn');
    expect(message).toContain('cuDNN 8.1');
    expect(message).toContain('--allow-cpu-fallback');
  });

  it('tensorflow-gpu with --allow-cpu-fallback runs on the CPU and says why', async () => {
    const warnings: string[] = [];
    const r = await selectBenchBackend(
      'tensorflow-gpu',
      { allowCpuFallback: true, onEvent: (e) => e.type === 'warning' && warnings.push(e.message) },
      fakeDeps({ [GPU]: gpuPackage(false) }),
    );
    expect(r).toMatchObject({ device: 'cpu', choice: { name: 'tensorflow', gpu: false } });
    expect(r.fallback).toContain('no GPU device');
    expect(warnings.join()).toContain('it would run on the CPU');
  });

  it('tensorflow-gpu with only the CPU build installed fails, naming the missing package', async () => {
    const deps = fakeDeps({ [NODE]: { registers: 'tensorflow', gpuPackage: false, gpu: false } });
    const err = await selectBenchBackend('tensorflow-gpu', {}, deps).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GpuFallbackError);
    expect((err as Error).message).toContain(`${GPU} is not installed`);
  });

  it('tensorflow (not -gpu) reports the device it got and does not fail on the CPU', async () => {
    const cpu = await selectBenchBackend('tensorflow', {}, fakeDeps({ [GPU]: gpuPackage(false) }));
    expect(cpu).toMatchObject({ device: 'cpu', choice: { name: 'tensorflow' } });
    const gpu = await selectBenchBackend('tensorflow', {}, fakeDeps({ [GPU]: gpuPackage(true) }));
    expect(gpu.device).toBe('gpu');
  });

  it('no tfjs-node at all: the backend error of selectBackend, with the install hint', async () => {
    const err = await selectBenchBackend('tensorflow-gpu', {}, fakeDeps({})).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendUnavailableError);
    expect((err as Error).message).toContain('npm i @tensorflow/tfjs-node-gpu@4.22.0');
  });

  it('wasm and cpu run on the CPU', async () => {
    const deps = fakeDeps({ [WASM]: { registers: 'wasm' } });
    expect((await selectBenchBackend('wasm', {}, deps)).device).toBe('cpu');
    expect((await selectBenchBackend('cpu', {}, deps)).device).toBe('cpu');
  });
});
