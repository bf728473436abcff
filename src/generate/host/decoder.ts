// Single-sequence decoding on the WebAssembly SIMD kernels: the model's weights laid out once per model in the host
// memory (weights.ts), this sequence's KV cache beside them (forward.ts). A prompt is fed in chunks of rows, so its
// weights are read once per chunk rather than once per token.
import type { LinearContext } from '../../model/linear.js';
import type { Transformer } from '../../model/transformer.js';
import type { Decoder } from '../types.js';
import { HostForward, HostSequence } from './forward.js';
import { type HostModel, hostModel, type WeightSet } from './weights.js';

/** Most prompt tokens fed in one forward (the activations are sized by it). */
export const PREFILL_CHUNK = 32;

export class SimdHostDecoder implements Decoder {
  private readonly hm: HostModel;
  private readonly seq: HostSequence;
  private readonly fwd: HostForward;
  private ctx: LinearContext | undefined;
  private set: WeightSet;

  constructor(model: Transformer, ctx?: LinearContext) {
    this.hm = hostModel(model);
    this.seq = new HostSequence(this.hm);
    this.fwd = new HostForward(this.hm);
    this.ctx = ctx;
    this.set = this.hm.weightSet(ctx);
  }

  get position(): number {
    return this.seq.position;
  }

  async next(ids: readonly (readonly number[])[]): Promise<Float32Array[]> {
    return this.step(ids);
  }

  step(ids: readonly (readonly number[])[]): Float32Array[] {
    if (ids.length !== 1) throw new Error(`HostDecoder decodes one sequence; got ${ids.length} rows`);
    const tokens = ids[0];
    if (tokens.length === 0) throw new Error('HostDecoder: expected at least one token');
    if (!this.hm.holds(this.set)) this.set = this.hm.weightSet(this.ctx); // evicted by another routing
    let logits: Float32Array[] = [];
    for (let i = 0; i < tokens.length; i += PREFILL_CHUNK) {
      const chunk = tokens.slice(i, i + PREFILL_CHUNK);
      const last = i + chunk.length === tokens.length;
      logits = this.fwd.run(
        this.set,
        chunk.map((token, j) => ({ seq: this.seq, token, logits: last && j === chunk.length - 1 })),
      );
    }
    return logits;
  }

  /** The weights of `ctx` (per-step merged experts) for the following tokens; the key is not needed here. */
  setContext(ctx: LinearContext | undefined): void {
    this.ctx = ctx;
    this.set = this.hm.weightSet(ctx);
  }

  dispose(): void {
    this.seq.reset();
    this.fwd.dispose();
  }
}
