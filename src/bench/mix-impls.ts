// The mixing implementations of one projection, forward + backward as in training: the base projection alone, a
// single LoRA and MoTE (3 step experts + shared, 8 chain rows) through the segmented kernel's WGSL programs (webgpu
// only), the segmented kernel in tf ops, and dense. Wall time, median over interleaved rounds, every output read
// back. On webgpu the record names the adapter: `software: true` (SwiftShader, lavapipe) means WebGPU emulated on
// the CPU, whose times say nothing about a GPU. No Node API: the browser test page runs it as it is.
// Run alone: mote bench --only mix-impls [--backend webgpu] — one JSON line per record.
import * as tf from '@tensorflow/tfjs';
import { withMixChoice } from '../experts/kernels/choice.js';
import { MIX_KERNEL_IMPLS } from '../experts/kernels/index.js';
import { MixLayer, type MixShape, median, timeInterleaved } from '../experts/kernels/measure.js';
import { sgmvRegistered } from '../experts/kernels/sgmv.js';

export interface MixImplsBenchOptions {
  tokens?: number;
  dim?: number;
  rank?: number;
  warmup?: number;
  repeats?: number;
  /** Forward-only records too (default false: forward + backward only). */
  forward?: boolean;
}

/** The device of the active backend: the backend name, or on webgpu the adapter and whether it is software. */
export function benchDevice(): { device: string; software: boolean } {
  if (tf.getBackend() !== 'webgpu') return { device: tf.getBackend(), software: false };
  const info = (tf.backend() as unknown as { adapterInfo?: { vendor?: string; architecture?: string } })
    .adapterInfo;
  const device = [info?.vendor, info?.architecture].filter(Boolean).join(' ') || 'unknown adapter';
  return { device, software: /swiftshader|llvmpipe|lavapipe/i.test(device) };
}

export async function benchMixImpls(opts: MixImplsBenchOptions = {}): Promise<object[]> {
  const { tokens = 1024, dim = 256, rank = 16, warmup = 1, repeats = 5 } = opts;
  const backend = tf.getBackend();
  const { device, software } = benchDevice();
  const impls = [
    ...(sgmvRegistered() ? [['segmented-wgsl', 'segmented', 'wgsl'] as const] : []),
    ['segmented-ops', 'segmented', 'ops'] as const,
    ['dense', 'dense', 'ops'] as const,
  ];
  const shapeOf = (routing: MixShape['routing']): MixShape => ({ tokens, dim, rank, experts: 3, routing });
  const layers = { lora: new MixLayer(shapeOf('lora')), mote: new MixLayer(shapeOf('chain-batch')) };
  const passes = opts.forward ? [true, false] : [true];
  const runs: [string, () => tf.Tensor[]][] = [];
  for (const backward of passes) {
    const pass = backward ? 'fwd+bwd' : 'fwd';
    runs.push([`base|${pass}`, () => layers.lora.run(null, backward)]);
    for (const kind of ['lora', 'mote'] as const)
      for (const [name, kernel, segmented] of impls)
        runs.push([
          `${kind}/${name}|${pass}`,
          () =>
            withMixChoice({ kernel, segmented }, () =>
              layers[kind].run(MIX_KERNEL_IMPLS[kernel].mix, backward),
            ),
        ]);
  }
  const times = await timeInterleaved(runs, warmup, repeats);
  layers.lora.dispose();
  layers.mote.dispose();

  const records = Object.entries(times).map(([key, t]) => {
    const [impl, pass] = key.split('|');
    return {
      bench: 'mix-impls',
      backend,
      device,
      software,
      shape: `N=${tokens} d=${dim} r=${rank} E=3+shared`,
      impl,
      routing: impl === 'base' || impl.startsWith('lora/') ? 'none' : 'chain-batch',
      pass,
      ms: median(t),
      minMs: Math.min(...t),
      measure: 'wall time',
    };
  });
  // ratioToLora: to the fastest single LoRA of the same pass
  for (const pass of passes.map((b) => (b ? 'fwd+bwd' : 'fwd'))) {
    const mine = records.filter((r) => r.pass === pass);
    const lora = Math.min(...mine.filter((r) => r.impl.startsWith('lora/')).map((r) => r.ms));
    for (const r of mine) Object.assign(r, { ratioToLora: r.ms / lora });
  }
  return records;
}
