// selectBackend of the browser entry with the page stubbed: which WebGPU adapter 'auto' takes (a hardware one) and
// refuses (a software one, as headless Chromium offers), what each refusal says, and the fallbacks. The real page
// (wasm, threads, a browser without WebAssembly) is tests/browser/playground.test.ts.
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { BackendDeps } from '../../../src/backend/deps.js';
import type { BackendEvent } from '../../../src/backend/select.js';

interface Adapter {
  info?: { vendor?: string; architecture?: string; description?: string; isFallbackAdapter?: boolean };
}
interface Page {
  /** navigator.gpu.requestAdapter's answer; undefined: the page has no navigator.gpu. */
  adapter?: Adapter | null;
  /** Whether the page imported @tensorflow/tfjs-backend-webgpu (it registers 'webgpu'). */
  webgpuImported?: boolean;
}

/** A page: wasm fails to load (so a refused WebGPU falls through to cpu), cpu always works. */
function pageDeps(page: Page): BackendDeps & { active?: string } {
  const registered = new Set(['cpu', ...(page.webgpuImported ? ['webgpu'] : [])]);
  const gpu = page.adapter === undefined ? undefined : { requestAdapter: async () => page.adapter ?? null };
  const deps: BackendDeps & { active?: string } = {
    importModule: async (specifier) => {
      throw new Error(`Cannot find package '${specifier}'`);
    },
    isRegistered: (name) => registered.has(name),
    setBackend: async (name) => {
      if (!registered.has(name)) return false;
      deps.active = name;
      return true;
    },
    backendInstance: () => undefined,
    env: {},
    global: { navigator: gpu ? { gpu } : {} },
  };
  return deps;
}

/** A fresh module each time: the page asks for its adapter once and keeps the answer. */
async function select(page: Page, backend: 'auto' | 'webgpu' = 'auto') {
  vi.resetModules();
  const { selectBackend } = await import('../../../src/backend/select-browser.js');
  const events: BackendEvent[] = [];
  const deps = pageDeps(page);
  const result = await selectBackend({ backend, onEvent: (e) => events.push(e) }, deps).catch(
    (e: unknown) => e as Error,
  );
  return { result, events, active: deps.active };
}

const SWIFTSHADER: Adapter = {
  info: { vendor: 'google', architecture: 'swiftshader', description: '', isFallbackAdapter: true },
};
const HARDWARE: Adapter = { info: { vendor: 'nvidia', architecture: 'ampere', description: 'RTX 3060' } };

describe('selectBackend in a page', () => {
  beforeEach(() => vi.resetModules());

  it("'auto' takes WebGPU on a hardware adapter, naming it", async () => {
    const { result, active } = await select({ adapter: HARDWARE, webgpuImported: true });
    expect(result).toMatchObject({
      name: 'webgpu',
      gpu: true,
      reason: 'WebGPU on a hardware adapter (nvidia / ampere / RTX 3060)',
    });
    expect(active).toBe('webgpu');
  });

  it("'auto' refuses a software adapter (SwiftShader) and says why, then falls back", async () => {
    const { result, active } = await select({ adapter: SWIFTSHADER, webgpuImported: true });
    expect(result).toMatchObject({ name: 'cpu', gpu: false });
    const attempts = (result as { attempts: { name: string; ok: boolean; reason: string }[] }).attempts;
    expect(attempts.map((a) => [a.name, a.ok])).toEqual([
      ['webgpu-hardware', false],
      ['wasm', false],
      ['cpu', true],
    ]);
    expect(attempts[0]?.reason).toBe(
      "the WebGPU adapter is a software one (google / swiftshader, runs on the CPU, slower than wasm); ask for backend 'webgpu' to use it anyway",
    );
    expect(attempts[1]?.reason).toMatch(/^@tensorflow\/tfjs-backend-wasm is not installed|failed to load/);
    expect(active).toBe('cpu');
  });

  it("an explicit 'webgpu' takes the software adapter, with a warning", async () => {
    const { result, events } = await select({ adapter: SWIFTSHADER, webgpuImported: true }, 'webgpu');
    expect(result).toMatchObject({
      name: 'webgpu',
      gpu: false,
      reason: 'WebGPU on a software adapter (google / swiftshader)',
    });
    expect(events).toContainEqual({
      type: 'warning',
      message:
        'the WebGPU adapter is a software one (google / swiftshader): it runs on the CPU, slower than wasm',
    });
  });

  it('says what is missing: navigator.gpu, an adapter, or the webgpu backend package', async () => {
    const reason = async (page: Page) => {
      const { result } = await select(page, 'webgpu');
      expect(result).toBeInstanceOf(Error);
      return (result as Error).message;
    };
    expect(await reason({})).toContain(
      'webgpu: this browser has no WebGPU (navigator.gpu is missing; it needs a secure context)',
    );
    expect(await reason({ adapter: null })).toContain(
      'webgpu: this browser offers no WebGPU adapter (requestAdapter() returned null)',
    );
    expect(await reason({ adapter: HARDWARE })).toContain(
      "webgpu: the page has a WebGPU adapter (nvidia / ampere / RTX 3060) but no 'webgpu' backend: import '@tensorflow/tfjs-backend-webgpu' in the page",
    );
    // and the error ends with what to do
    expect(await reason({})).toMatch(/To install: import '@tensorflow\/tfjs-backend-webgpu' in the page/);
  });

  it("'tensorflow' does not exist in a page", async () => {
    vi.resetModules();
    const { selectBackend } = await import('../../../src/backend/select-browser.js');
    const err = await selectBackend({ backend: 'tensorflow' }, pageDeps({})).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/the tensorflow backend \(tfjs-node\) exists in Node only/);
  });
});
