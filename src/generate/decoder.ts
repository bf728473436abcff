// Decoders: the engines that turn the next tokens of a sequence into next-token logits, keeping the KV cache.
// `TensorDecoder` runs the model's tfjs graph (any batch, any backend, the GPU path). `HostDecoder` runs one
// sequence through the same math as llama2.c's run.c on the host, on WebAssembly SIMD kernels: a small model's tfjs
// decode step is dispatch-bound (~250 ops × 10–25 µs, tfjs-notes.md), and a large model's is bound by reading its
// weights, which tfjs-wasm (XNNPACK) repacks on every matmul; this path issues no tfjs op per token at all.
import * as tf from '@tensorflow/tfjs';
import { syncReadsWork } from '../backend/kernels/backends.js';
import type { LinearContext } from '../model/linear.js';
import type { Transformer } from '../model/transformer.js';
import { SimdHostDecoder } from './host/decoder.js';
import { decodeKernelsSupported } from './host/heap.js';
import { JsHostDecoder } from './host/js-decoder.js';
import type { Decoder } from './types.js';

/** Decodes through `Transformer.decode` (tfjs ops, KV cache of tensors). */
export class TensorDecoder implements Decoder {
  private readonly cache;
  private ctx: LinearContext | undefined;

  constructor(
    private readonly model: Transformer,
    batchSize = 1,
    ctx?: LinearContext,
  ) {
    this.cache = model.newCache(batchSize);
    this.ctx = ctx;
  }

  get position(): number {
    return this.cache.length;
  }

  /** Reads the logits synchronously: not on webgpu (syncReadsWork), where `next` is the way. */
  step(ids: readonly (readonly number[])[]): Float32Array[] {
    if (!syncReadsWork())
      throw new Error(
        `TensorDecoder.step reads synchronously, which the '${tf.getBackend()}' backend cannot do: use next()`,
      );
    const logits = this.model.decode(ids, this.cache, { ctx: this.ctx }); // (B, vocab)
    const flat = logits.dataSync() as Float32Array;
    logits.dispose();
    const V = logits.shape[1];
    return ids.map((_, b) => flat.slice(b * V, (b + 1) * V));
  }

  async next(ids: readonly (readonly number[])[]): Promise<Float32Array[]> {
    const logits = this.model.decode(ids, this.cache, { ctx: this.ctx }); // (B, vocab)
    const flat = (await logits.data()) as Float32Array;
    logits.dispose();
    const V = logits.shape[1];
    return ids.map((_, b) => flat.slice(b * V, (b + 1) * V));
  }

  setContext(ctx: LinearContext | undefined): void {
    this.ctx = ctx;
  }

  dispose(): void {
    this.cache.dispose();
  }
}

/** Which host engine: WebAssembly SIMD kernels, or plain JavaScript (the fallback and the tests' reference). */
export type HostEngine = 'simd' | 'js';

/**
 * Single-sequence decoding on the host, llama2.c style (KV cache updated in place, no tfjs op per token): on the
 * WebAssembly SIMD kernels where the engine has them (host/decoder.ts), else in plain JavaScript. Covers every model
 * the Transformer computes: head size ≠ dim / heads, scaled RoPE (the model's own rotation tables), biases.
 */
export class HostDecoder implements Decoder {
  readonly engine: HostEngine;
  private readonly impl: Decoder;

  constructor(model: Transformer, ctx?: LinearContext, key = 'default', engine?: HostEngine) {
    if (!syncReadsWork())
      throw new Error(
        `the host decoder copies the weights synchronously, which the '${tf.getBackend()}' backend cannot do: use decoder 'tensor'`,
      );
    this.engine = engine ?? (decodeKernelsSupported() ? 'simd' : 'js');
    this.impl = this.engine === 'simd' ? new SimdHostDecoder(model, ctx) : new JsHostDecoder(model, ctx, key);
  }

  get position(): number {
    return this.impl.position;
  }

  step(ids: readonly (readonly number[])[]): Float32Array[] {
    return this.impl.step(ids);
  }

  async next(ids: readonly (readonly number[])[]): Promise<Float32Array[]> {
    return this.step(ids);
  }

  setContext(ctx: LinearContext | undefined, key?: string): void {
    this.impl.setContext(ctx, key);
  }

  dispose(): void {
    this.impl.dispose();
  }
}
