// Which WebGPU adapter the tests expect. Headless Chromium here has only SwiftShader's software adapter;
// on a machine with a GPU, MOTE_WEBGPU_ADAPTER=hardware makes the tests fail unless they ran on it.
// No DOM or Node types: the page imports the AdapterInfo type too.

/** What the page reports of the adapter tfjs got (GPUAdapterInfo fields, plus isFallbackAdapter). */
export interface AdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** True for a software (fallback) adapter such as SwiftShader's. */
  isFallbackAdapter: boolean;
}

/** Values of MOTE_WEBGPU_ADAPTER. */
export const ADAPTER_EXPECTATIONS = ['any', 'software', 'hardware'] as const;
/** One of ADAPTER_EXPECTATIONS. */
export type AdapterExpectation = (typeof ADAPTER_EXPECTATIONS)[number];

/** MOTE_WEBGPU_ADAPTER: 'any' (default: whatever adapter the browser gives), 'software' or 'hardware'. */
export function expectedAdapter(value: string | undefined): AdapterExpectation {
  const v = value || 'any';
  if ((ADAPTER_EXPECTATIONS as readonly string[]).includes(v)) return v as AdapterExpectation;
  throw new Error(`MOTE_WEBGPU_ADAPTER=${value}: expected one of ${ADAPTER_EXPECTATIONS.join(', ')}`);
}

/** Whether `info` is a software adapter (SwiftShader, or one the browser marks as a fallback). */
export function isSoftwareAdapter(info: AdapterInfo): boolean {
  return info.isFallbackAdapter || /swiftshader/i.test(info.architecture + info.description);
}

/** Why `info` does not meet `expected`, or undefined when it does. */
export function adapterMismatch(info: AdapterInfo, expected: AdapterExpectation): string | undefined {
  if (expected === 'any') return undefined;
  const software = isSoftwareAdapter(info);
  if (expected === 'software' && !software) return `expected a software adapter, got ${JSON.stringify(info)}`;
  if (expected === 'hardware' && software) return `expected a hardware adapter, got ${JSON.stringify(info)}`;
  return undefined;
}
