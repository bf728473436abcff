// Decode at the SmolLM2-135M shape (d 576, 30 layers, 9 heads / 3 KV heads, SwiGLU 1536, vocabulary 49,152, tied;
// random seeded weights) against the memory-bandwidth bound measured on the machine in the same rounds (paired.ts):
// a float32 decode step reads every weight once (each projection, and the tied embedding table for the logits), so
// tokens/s cannot exceed bandwidth / bytes of weights per token. Two bandwidths of one core, in a WebAssembly memory
// like the decoder's: copy (bytes copied per second: the bound `hostOverBound` is taken against) and read (a SIMD sum
// over the buffer: a stream that only reads, as a decode step does, which can go faster than a copy). Also MoTE rank
// 16 merged-step decode against the base, and the tfjs (tensor) decoder on fewer tokens (several times slower here).
import * as tf from '@tensorflow/tfjs';
import { attachExperts } from '../experts/attach.js';
import { decodeRoute, withRoute } from '../experts/routing.js';
import { HostDecoder, TensorDecoder } from '../generate/decoder.js';
import { WasmHeap } from '../generate/host/heap.js';
import { headSize, type ModelConfig, resolveModelConfig } from '../model/config.js';
import { Transformer } from '../model/transformer.js';
import { greedyRate } from './decode.js';
import { pairedRounds, quietest, rateSpread, ratioSpread, spread } from './paired.js';
import { SCALE_SHAPES } from './scale-shapes.js';

/** The SmolLM2-135M shape of the scale suite, context cut to 512 (decode here never goes further). */
export const SMOLLM2_135M: Partial<ModelConfig> = { ...SCALE_SHAPES['smollm2-135m'], maxSeqLen: 512 };

/** Bytes of float32 weights a decode step reads: every projection, every norm, and the head (the tied table). */
export function weightBytesPerToken(c: ModelConfig): number {
  const q = headSize(c) * c.numHeads;
  const kv = headSize(c) * c.numKvHeads;
  const perLayer = c.dim * q + 2 * c.dim * kv + q * c.dim + 3 * c.dim * c.hiddenDim + 2 * c.dim;
  return 4 * (c.numLayers * perLayer + c.vocabSize * c.dim + c.dim);
}

/**
 * Bytes per second of one core, in a WebAssembly memory of the host decoder's kind (heap.ts), best of `reps` over
 * `bytes` (far larger than the caches): copied (memory.copy), and read (a SIMD sum, what a decode step's weight
 * reading is).
 */
class Bandwidth {
  private readonly heap = new WasmHeap();
  private readonly src: number;
  private readonly dst: number;

  constructor(private readonly bytes = 256 << 20) {
    this.src = this.heap.alloc(bytes / 4); // allocation zero-fills: the pages are touched before timing
    this.dst = this.heap.alloc(bytes / 4);
  }

  private best(run: () => unknown, reps: number): number {
    let best = 0;
    for (let r = 0; r < reps; r++) {
      const t0 = performance.now();
      run();
      best = Math.max(best, this.bytes / ((performance.now() - t0) / 1000));
    }
    return best;
  }

  copy(reps = 3): number {
    return this.best(() => this.heap.kernels.copy(this.dst, this.src, this.bytes), reps);
  }

  read(reps = 3): number {
    return this.best(() => this.heap.kernels.sum(this.src, this.bytes / 4), reps);
  }
}

/** Options of benchDecodeScale. */
export interface DecodeScaleOptions {
  /** Forwards per host decode (default 32). */
  tokens?: number;
  /** Forwards per tensor decode (default 8; 0: not measured). */
  tensorTokens?: number;
  /** Timed rounds (default 5). */
  rounds?: number;
  /** The shape (default SMOLLM2_135M). */
  shape?: Partial<ModelConfig>;
}

/** Records {bench:'decode-scale', …}. */
export async function benchDecodeScale(opts: DecodeScaleOptions = {}): Promise<object[]> {
  const { tokens = 32, tensorTokens = 8, rounds = 5, shape = SMOLLM2_135M } = opts;
  const backend = tf.getBackend();
  const config = resolveModelConfig(shape);
  const base = Transformer.init(config, 0, { trainable: false });
  const mote = Transformer.init(config, 0, { trainable: false });
  attachExperts(mote, { kind: 'mote', rank: 16, initLoraWeights: false, seed: 1 });
  const merged = withRoute(decodeRoute(['analysis', 'guidance', 'answer'], 'answer'));
  const bytes = weightBytesPerToken(config);
  const probe = new Bandwidth();
  try {
    const variants = [
      { name: 'host', run: () => greedyRate(() => new HostDecoder(base), tokens) },
      { name: 'host-mote-merged', run: () => greedyRate(() => new HostDecoder(mote, merged), tokens) },
      // the bounds, measured between the decodes: tokens/s that copy and read bandwidth allow
      { name: 'bound', run: async () => probe.copy() / bytes },
      { name: 'read-bound', run: async () => probe.read() / bytes },
      ...(tensorTokens > 0
        ? [{ name: 'tensor', run: () => greedyRate(() => new TensorDecoder(base), tensorTokens) }]
        : []),
    ];
    const p = await pairedRounds(variants, rounds);
    const common = { bench: 'decode-scale', backend, model: 'smollm2-135m-shape', rounds };
    const out: object[] = variants.map((v) => ({
      ...common,
      variant: v.name,
      tokens: v.name === 'tensor' ? tensorTokens : v.name.endsWith('bound') ? undefined : tokens,
      tokensPerSec: rateSpread(p, v.name, 2),
    }));
    const gbps = (name: string) =>
      spread(
        p.rates[name].map((b) => (b * bytes) / 1e9),
        quietest(p),
        2,
      );
    out.push({
      ...common,
      parameters: base.parameterCount(),
      weightBytesPerToken: bytes,
      copyGBps: gbps('bound'),
      readGBps: gbps('read-bound'),
      ratios: {
        // host tokens/s over the bound (copy bandwidth / weight bytes), per round (target ≥ 0.7)
        hostOverBound: ratioSpread(p, 'host', 'bound'),
        // against the read bandwidth (a SIMD sum): what reading the weights alone could reach
        hostOverReadBound: ratioSpread(p, 'host', 'read-bound'),
        moteMergedCostVsBase_host: ratioSpread(p, 'host', 'host-mote-merged'),
        ...(tensorTokens > 0 ? { hostOverTensor: ratioSpread(p, 'host', 'tensor', 2) } : {}),
      },
    });
    return out;
  } finally {
    base.dispose();
    mote.dispose();
  }
}
