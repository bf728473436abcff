// What the page can say about its WebGPU adapter, asked the way tfjs-backend-webgpu asks for one.
import type { AdapterInfo } from '../adapter.js';

/**
 * The subset of the WebGPU API used here. TypeScript's DOM library has no WebGPU types, and the @webgpu/types
 * that tfjs-backend-webgpu 4.22 brings predate `adapter.info`.
 */
interface GpuAdapterLike {
  info: {
    vendor: string;
    architecture: string;
    device: string;
    description: string;
    isFallbackAdapter?: boolean;
  };
  isFallbackAdapter?: boolean;
}
interface GpuLike {
  requestAdapter(options?: { powerPreference?: string }): Promise<GpuAdapterLike | null>;
}

/** The adapter's info, or an Error saying why there is none. */
export async function webgpuAdapterInfo(): Promise<AdapterInfo> {
  const gpu = (navigator as unknown as { gpu?: GpuLike }).gpu;
  if (!gpu) {
    throw new Error(
      `navigator.gpu is missing (secure context: ${isSecureContext}); Chromium needs --enable-unsafe-webgpu on Linux`,
    );
  }
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) {
    const hint = 'Chromium on Linux needs --enable-unsafe-webgpu';
    throw new Error(
      `navigator.gpu.requestAdapter() returned null: the browser offers no WebGPU adapter (${hint})`,
    );
  }
  const { vendor, architecture, device, description } = adapter.info;
  const isFallbackAdapter = adapter.info.isFallbackAdapter ?? adapter.isFallbackAdapter ?? false;
  return { vendor, architecture, device, description, isFallbackAdapter };
}
