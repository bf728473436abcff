// What 'auto' mixes with on the active device, when it has been measured (calibrate.ts): the fastest kernel, and
// whether the segmented kernel runs its WGSL programs or tf ops on webgpu. Kept per device in this process: a
// backend name, and for webgpu also the adapter (a laptop's GPU and SwiftShader rank the kernels differently).
import * as tf from '@tensorflow/tfjs';
import type { MixKernelName } from '../config.js';

/** How the segmented kernel runs: WGSL programs (webgpu) or ordinary tf ops (every backend). */
export type SegmentedImpl = 'wgsl' | 'ops';

/** A choice of mixing: the kernel 'auto' picks for step routing, and the segmented kernel's implementation. */
export interface MixChoice {
  kernel: MixKernelName;
  segmented: SegmentedImpl;
}

/** A measured choice: the device, the candidates' median times, the shape measured. */
export interface MixCalibration {
  device: string;
  choice: MixChoice;
  /** Median ms of a forward + backward per candidate (`segmented/wgsl`, `segmented/ops`, `dense`). */
  ms: Record<string, number>;
  shape: string;
}

interface AdapterInfoLike {
  vendor?: string;
  architecture?: string;
}

/** The active device: the backend's name, plus the adapter's vendor and architecture on webgpu. */
export function deviceKey(): string {
  const backend = tf.getBackend();
  if (backend !== 'webgpu') return backend;
  const info = (tf.backend() as unknown as { adapterInfo?: AdapterInfoLike }).adapterInfo;
  return `webgpu:${info?.vendor || '?'}/${info?.architecture || '?'}`;
}

const calibrations = new Map<string, MixCalibration>();
let forced: MixChoice | null = null;

/** Keeps `c` as the choice for its device (calibrateMixKernel does; a cached record may be given back too). */
export function rememberCalibration(c: MixCalibration): void {
  calibrations.set(c.device, c);
}

/** The calibration of the active device, if any. */
export function calibrationOf(device = deviceKey()): MixCalibration | undefined {
  return calibrations.get(device);
}

/** Forgets every calibration (tests). */
export function forgetCalibrations(): void {
  calibrations.clear();
}

/** The choice in force: one being measured (withMixChoice), else the active device's calibration, else null. */
export function activeChoice(): MixChoice | null {
  return forced ?? calibrations.get(deviceKey())?.choice ?? null;
}

/** Runs `fn` with `choice` in force (what calibration measures). Synchronous: `fn` must not await. */
export function withMixChoice<T>(choice: MixChoice, fn: () => T): T {
  const before = forced;
  forced = choice;
  try {
    return fn();
  } finally {
    forced = before;
  }
}
