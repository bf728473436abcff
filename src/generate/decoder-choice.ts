// What 'auto' decodes with: the faster of the host decoder (WebAssembly SIMD kernels on host memory, host/) and the
// tensor decoder (the model's tfjs graph), as measured (choose.ts) on this device for this model shape and number of
// rows. No size threshold: which one wins depends on the backend, the shape and the rows, and a measurement stays
// right where a threshold goes stale. Kept per device, host engine, rows and shape in this process, as the mixing
// kernel's choice is kept per device (experts/kernels/choice.ts).
import { syncReadsWork } from '../backend/kernels/backends.js';
import { deviceKey } from '../experts/kernels/choice.js';
import { headSize, type ModelConfig } from '../model/config.js';
import { median } from '../util/timing.js';
import { decodeKernelsSupported } from './host/heap.js';

export type DecoderKind = 'host' | 'tensor';

/** A measured choice: what was compared (median ms per step of each decoder) and what won. */
export interface DecoderCalibration {
  /** Device, host engine, rows and shape (decoderKey). */
  key: string;
  choice: DecoderKind;
  ms: Record<DecoderKind, number>;
}

/** Candidate step times (ms per step, one entry per timed step) of each decoder, as a measurement returns them. */
export type DecoderTimes = Record<DecoderKind, number[]>;

const calibrations = new Map<string, DecoderCalibration>();

/** What a choice depends on: the device, the host engine, the rows decoded together, the model's shape. */
export function decoderKey(c: ModelConfig, rows: number): string {
  const shape = [
    c.dim,
    c.hiddenDim,
    c.numLayers,
    c.numHeads,
    c.numKvHeads,
    headSize(c),
    c.vocabSize,
    c.biases,
  ];
  const engine = decodeKernelsSupported() ? 'simd' : 'js';
  return JSON.stringify([deviceKey(), engine, rows, shape]);
}

/** The faster decoder by median step time (the host one on a tie: it needs no tfjs memory). */
export function pickDecoder(times: DecoderTimes): DecoderCalibration['ms'] & { choice: DecoderKind } {
  const ms = { host: median(times.host), tensor: median(times.tensor) };
  return { ...ms, choice: ms.host <= ms.tensor ? 'host' : 'tensor' };
}

/**
 * The decoder 'auto' uses for `rows` sequences of a model of shape `config` on the active device: 'tensor' where the
 * host decoder cannot run (a backend without synchronous reads: webgpu), else the calibrated choice, measuring with
 * `measure` the first time.
 */
export async function chooseDecoder(
  config: ModelConfig,
  rows: number,
  measure: () => Promise<DecoderTimes>,
): Promise<DecoderKind> {
  if (!syncReadsWork()) return 'tensor'; // the host decoder copies the weights synchronously
  const key = decoderKey(config, rows);
  const known = calibrations.get(key);
  if (known) return known.choice;
  const { choice, ...ms } = pickDecoder(await measure());
  calibrations.set(key, { key, choice, ms });
  return choice;
}

/** The calibration behind 'auto' for `rows` sequences of a model of shape `config`, if measured. */
export function decoderCalibrationOf(config: ModelConfig, rows = 1): DecoderCalibration | undefined {
  return calibrations.get(decoderKey(config, rows));
}

/** Forgets every measured choice (tests; a device whose speed changed). */
export function forgetDecoderChoices(): void {
  calibrations.clear();
}
