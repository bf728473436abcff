// One pre-norm residual block: x + attn(norm(x)), then x + mlp(norm(x)) (nanoGPT Block, llama2.c layer loop).
import type * as tf from '@tensorflow/tfjs';
import { addSame } from '../backend/kernels/shape-only.js';
import type { Attention, AttentionInput } from './attention.js';
import type { Mlp } from './mlp.js';
import type { RMSNorm } from './norm.js';
import type { Rope } from './rope.js';

export class Block {
  constructor(
    readonly attnNorm: RMSNorm,
    readonly attn: Attention,
    readonly mlpNorm: RMSNorm,
    readonly mlp: Mlp,
  ) {}

  /** x: (B·T, d) → (B·T, d). */
  apply(x: tf.Tensor2D, rope: Rope, input: AttentionInput): tf.Tensor2D {
    // residual adds that save nothing for the backward (shape-only.ts)
    const h = addSame(x, this.attn.apply(this.attnNorm.apply(x), rope, input));
    return addSame(h, this.mlp.apply(this.mlpNorm.apply(h), input.ctx));
  }

  /** Every variable of the block: the two norms' weights, then each projection's (base, bias, experts). */
  variables(): tf.Variable[] {
    const vars = [this.attnNorm.weight, this.mlpNorm.weight];
    for (const l of this.linears()) vars.push(...l.namedVariables().values());
    return vars;
  }

  private linears() {
    const { q, k, v, o } = this.attn;
    const { gate, up, down } = this.mlp;
    return [q, k, v, o, gate, up, down];
  }

  dispose(): void {
    this.attnNorm.dispose();
    this.mlpNorm.dispose();
    for (const l of this.linears()) l.dispose();
  }
}
