// The measurement behind 'auto' on a device without a measured table (webgpu): time a forward + backward of one
// MoTE layer through each candidate (the segmented kernel's WGSL programs where they run, the segmented kernel in tf
// ops, dense), keep the fastest as this device's choice (choice.ts). A small layer, so that it costs little next to
// a run: what it ranks is the kernels' fixed costs (dispatches, uploads) and their scaling in N and r on this
// device, not their speed on a large model. selectBackend runs it once for webgpu; call it again with a shape closer
// to the model's to rank for that.
import {
  deviceKey,
  type MixCalibration,
  type MixChoice,
  rememberCalibration,
  withMixChoice,
} from './choice.js';
import { MIX_KERNEL_IMPLS } from './index.js';
import { MixLayer, type MixShape, median, timeInterleaved } from './measure.js';
import { sgmvRegistered } from './sgmv.js';

/** Options of calibrateMixKernel. */
export interface CalibrateOptions {
  /** The layer timed (default 256 tokens, d = 64, r = 8, 3 step experts + shared, chain routing). */
  shape?: Partial<MixShape>;
  /** Untimed rounds first (shader compilation). Default 1. */
  warmup?: number;
  /** Timed rounds; the median counts. Default 3. */
  repeats?: number;
}

const CANDIDATES: readonly (readonly [string, MixChoice])[] = [
  ['segmented/wgsl', { kernel: 'segmented', segmented: 'wgsl' }],
  ['segmented/ops', { kernel: 'segmented', segmented: 'ops' }],
  ['dense', { kernel: 'dense', segmented: 'ops' }],
];

/**
 * Measures the candidates on the active backend and device, keeps the fastest as the choice of 'auto' there (and the
 * faster segmented implementation as the segmented kernel's), and returns the measurement.
 */
export async function calibrateMixKernel(options: CalibrateOptions = {}): Promise<MixCalibration> {
  const shape: MixShape = {
    tokens: 256,
    dim: 64,
    rank: 8,
    experts: 3,
    routing: 'chain-batch',
    ...options.shape,
  };
  const layer = new MixLayer(shape);
  try {
    const wgsl = sgmvRegistered();
    const candidates = CANDIDATES.filter(([name]) => wgsl || name !== 'segmented/wgsl');
    const times = await timeInterleaved(
      candidates.map(
        ([name, choice]) =>
          [
            name,
            () => withMixChoice(choice, () => layer.run(MIX_KERNEL_IMPLS[choice.kernel].mix, true)),
          ] as const,
      ),
      options.warmup ?? 1,
      options.repeats ?? 3,
    );
    const ms = Object.fromEntries(Object.entries(times).map(([name, t]) => [name, median(t)]));
    const fastest = Object.entries(ms).reduce((a, b) => (b[1] < a[1] ? b : a))[0];
    const segmented = wgsl && ms['segmented/wgsl'] <= ms['segmented/ops'] ? 'wgsl' : 'ops';
    const calibration: MixCalibration = {
      device: deviceKey(),
      choice: { kernel: fastest === 'dense' ? 'dense' : 'segmented', segmented },
      ms,
      shape: `N=${shape.tokens} d=${shape.dim} r=${shape.rank} E=${shape.experts}+shared ${shape.routing}`,
    };
    rememberCalibration(calibration);
    return calibration;
  } finally {
    layer.dispose();
  }
}
