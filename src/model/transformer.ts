// The Llama-style decoder: token embedding → blocks → final RMSNorm → head (tied to the embedding or not).
// Plain classes over tf.Variables (no tfjs-layers). It knows nothing about experts: they attach by replacing
// the LinearLike in a slot (see `linearSlots`), the way PEFT wraps nn.Linear.
import * as tf from '@tensorflow/tfjs';
import { rowsMatMul, weightMatMul } from '../backend/kernels/weight-matmul.js';
import { Attention, attentionMask } from './attention.js';
import { Block } from './block.js';
import {
  headSize,
  LINEAR_MODULES,
  type LinearModule,
  type ModelConfig,
  resolveModelConfig,
} from './config.js';
import { headNll, type VocabWeights } from './fused/head-nll.js';
import { initWeights } from './init.js';
import { KVCache } from './kv-cache.js';
import { Linear, type LinearContext, type LinearLike } from './linear.js';
import { Mlp } from './mlp.js';
import { RMSNorm } from './norm.js';
import { Rope } from './rope.js';

export { LINEAR_MODULES, type LinearModule } from './config.js';

/** A place in the model that holds a projection; experts replace what is there. */
export interface LinearSlot {
  /** Dotted path, e.g. `blocks.3.attn.q`. */
  readonly path: string;
  readonly module: LinearModule;
  readonly layer: number;
  get(): LinearLike;
  set(linear: LinearLike): void;
}

export interface ForwardOptions {
  /** Extra additive attention mask (B, T, pos + T): 0 to keep, `MASKED` to hide (step skipping). */
  attnMask?: tf.Tensor3D;
  /** Passed untouched to every linear (expert routing). */
  ctx?: LinearContext;
  /**
   * Decoding one token per row (T = 1) for rows of one cache that hold sequences of different lengths (continuous
   * batching): each row's position, B entries, for RoPE. The token's keys still go to the cache's next column, and
   * `attnMask` hides the columns a row does not own. Absent: every row at the cache length.
   */
  positions?: readonly number[];
  /**
   * Runs each block of a forward without a KV cache (training): how it is run is the caller's, e.g. with
   * activation checkpointing (train/checkpoint-blocks.ts). Absent: blocks run directly.
   */
  runBlock?: BlockRunner;
}

/** One block of a forward, as a `BlockRunner` receives it. */
export interface BlockCall {
  /**
   * The block's forward: x (B·T, d) → (B·T, d) under the attention mask given. `recompute` says it runs again for
   * the backward: the linears then see `recompute: true` in their context and draw the random numbers (adapter
   * dropout) of the first run.
   */
  apply(x: tf.Tensor2D, mask: tf.Tensor, recompute: boolean): tf.Tensor2D;
  /** The block's input, (B·T, d). */
  x: tf.Tensor2D;
  /** The forward's attention mask, (T, T) or (B, T, T); freed with the forward unless the runner keeps it. */
  mask: tf.Tensor;
  /** Every variable of the block (norms, projections, experts). */
  variables: readonly tf.Variable[];
}

/** Runs one block's forward and returns its output (see ForwardOptions.runBlock). */
export type BlockRunner = (call: BlockCall) => tf.Tensor2D;

export interface BuildOptions {
  /** Whether the base weights are trainable (full fine-tuning / pretraining). Default false: frozen. */
  trainable?: boolean;
}

export class Transformer {
  config: Readonly<ModelConfig>;
  /**
   * Trainable rows of the added special tokens, (n, d), for the ids [addedStart, addedStart + n); null when none.
   * They take the place of the frozen embedding's rows at those ids (unused padding rows, as Qwen2.5 has) and go
   * past its end when there are not enough of them (`addTokens`).
   */
  addedEmbedding: tf.Variable | null = null;
  /** Head columns of the added tokens when the head is untied, (d, n), for the same ids. */
  addedHead: tf.Variable | null = null;
  /** The first id of the added rows (the vocabulary size when there are none). */
  addedStart: number;
  readonly rope: Rope;

  private constructor(
    config: Readonly<ModelConfig>,
    /** (vocab, d) */
    readonly embedding: tf.Variable,
    readonly blocks: Block[],
    readonly finalNorm: RMSNorm,
    /** Untied output head (d, vocab), or null when tied to the embedding. */
    readonly head: Linear | null,
  ) {
    this.config = config;
    this.addedStart = config.vocabSize;
    this.rope = new Rope(headSize(config), config.maxSeqLen, config.ropeTheta, config.ropeScaling);
  }

  /**
   * Builds a model from named weights (`embedding`, `blocks.L.attn.q.weight` (in, out), `blocks.L.attn.q.bias`
   * (out) for the projections in `config.biases`, …); takes ownership.
   */
  static fromWeights(
    config: Readonly<ModelConfig>,
    weights: Map<string, tf.Tensor>,
    options: BuildOptions = {},
  ): Transformer {
    const trainable = options.trainable ?? false;
    const take = (name: string, shape: number[]): tf.Variable => {
      const t = weights.get(name);
      if (!t) throw new Error(`missing weight ${name} (expected shape [${shape}])`);
      if (t.shape.join() !== shape.join())
        throw new Error(`weight ${name}: expected shape [${shape}], got [${t.shape}]`);
      const v = tf.variable(t, trainable);
      t.dispose();
      return v;
    };
    const { dim, hiddenDim, numLayers, vocabSize } = config;
    const qDim = headSize(config) * config.numHeads;
    const kvDim = headSize(config) * config.numKvHeads;
    const lin = (name: string, module: LinearModule, i: number, o: number) =>
      new Linear(
        take(`${name}.weight`, [i, o]),
        name,
        config.biases.includes(module) ? take(`${name}.bias`, [o]) : null,
      );
    const blocks: Block[] = [];
    for (let l = 0; l < numLayers; l++) {
      const p = `blocks.${l}`;
      const attn = new Attention(
        config,
        lin(`${p}.attn.q`, 'q', dim, qDim),
        lin(`${p}.attn.k`, 'k', dim, kvDim),
        lin(`${p}.attn.v`, 'v', dim, kvDim),
        lin(`${p}.attn.o`, 'o', qDim, dim),
      );
      const mlp = new Mlp(
        lin(`${p}.mlp.gate`, 'gate', dim, hiddenDim),
        lin(`${p}.mlp.up`, 'up', dim, hiddenDim),
        lin(`${p}.mlp.down`, 'down', hiddenDim, dim),
      );
      blocks.push(
        new Block(
          new RMSNorm(take(`${p}.attnNorm.weight`, [dim]), config.normEps),
          attn,
          new RMSNorm(take(`${p}.mlpNorm.weight`, [dim]), config.normEps),
          mlp,
        ),
      );
    }
    const embedding = take('embedding', [vocabSize, dim]);
    const finalNorm = new RMSNorm(take('finalNorm.weight', [dim]), config.normEps);
    const head = config.tiedEmbeddings ? null : new Linear(take('head.weight', [dim, vocabSize]), 'head');
    return new Transformer(config, embedding, blocks, finalNorm, head);
  }

  /** A freshly initialised model (seeded); trainable by default, for pretraining. */
  static init(
    config: Partial<ModelConfig> | Readonly<ModelConfig>,
    seed: string | number = 0,
    options: BuildOptions = { trainable: true },
  ): Transformer {
    const resolved = resolveModelConfig(config);
    return Transformer.fromWeights(resolved, initWeights(resolved, seed), options);
  }

  // ---------------------------------------------------------------- forward

  /**
   * The embedding with the added rows in place, (vocab, d): the frozen rows before `addedStart`, the added rows,
   * then any frozen rows after them (padding rows the added tokens did not need). Pure: call inside a tidy.
   */
  embeddingTable(): tf.Tensor2D {
    const e = this.embedding as tf.Tensor2D;
    if (!this.addedEmbedding) return e;
    return spliceRows(e, this.addedEmbedding as tf.Tensor2D, this.addedStart, 0);
  }

  /** The untied head with the added columns in place, (d, vocab), or null when tied. Pure: call inside a tidy. */
  headTable(): tf.Tensor2D | null {
    if (!this.head) return null;
    const w = this.head.weight as tf.Tensor2D;
    if (!this.addedHead) return w;
    return spliceRows(w, this.addedHead as tf.Tensor2D, this.addedStart, 1);
  }

  /** The embedding rows of `ids` (M) int32 → (M, d): the added rows for ids in their range, the frozen ones else. */
  private embed(ids: tf.Tensor1D): tf.Tensor2D {
    const e = this.embedding as tf.Tensor2D;
    if (!this.addedEmbedding) return tf.gather(e, ids) as tf.Tensor2D;
    const s = this.addedStart;
    const n = this.addedEmbedding.shape[0];
    const first = tf.scalar(s, 'int32');
    const inAdded = tf.logicalAnd(tf.greaterEqual(ids, first), tf.less(ids, tf.scalar(s + n, 'int32'))); // (M)
    const zero = tf.zerosLike(ids);
    const fromAdded = tf.gather(
      this.addedEmbedding,
      tf.where(inAdded, tf.sub(ids, first), zero),
    ) as tf.Tensor2D;
    const fromBase = tf.gather(e, tf.where(inAdded, zero, ids)) as tf.Tensor2D; // ids past V₀ are all added
    const pick = tf.tile(tf.reshape(inAdded, [-1, 1]), [1, e.shape[1]]); // (M, d): where does not broadcast
    return tf.where(pick, fromAdded, fromBase) as tf.Tensor2D; // (M, d)
  }

  /**
   * The vocabulary's output weights in vocabulary order: the tied table's rows (V, d), or the untied head's columns
   * (d, V); the base, with the added rows in place at `addedStart` (after it, or over its padding rows: then the base
   * is cut around them).
   */
  vocabWeights(): VocabWeights {
    const rows = !this.head;
    const base = (rows ? this.embedding : this.head!.weight) as tf.Tensor2D;
    const added = (rows ? this.addedEmbedding : this.addedHead) as tf.Tensor2D | null;
    const layout = rows ? 'rows' : 'cols';
    if (!added) return { layout, parts: [base] };
    const axis = rows ? 0 : 1;
    const V0 = base.shape[axis];
    const s = this.addedStart;
    const n = added.shape[axis];
    if (s >= V0) return { layout, parts: [base, added] };
    const part = (from: number, size: number) =>
      (rows ? tf.slice(base, [from, 0], [size, -1]) : tf.slice(base, [0, from], [-1, size])) as tf.Tensor2D;
    const parts = [...(s > 0 ? [part(0, s)] : []), added, ...(s + n < V0 ? [part(s + n, V0 - s - n)] : [])];
    return { layout, parts };
  }

  /** Final hidden states → logits: (N, d) → (N, vocab), the tied table read in place (no transposed copy). */
  private project(h: tf.Tensor2D): tf.Tensor2D {
    const { layout, parts } = this.vocabWeights();
    const logits = parts.map((w) =>
      layout === 'rows' ? rowsMatMul(h, w, 0, w.shape[0], true) : weightMatMul(h, w),
    ); // (N, V₀), (N, added)
    return logits.length === 1 ? logits[0] : (tf.concat(logits, 1) as tf.Tensor2D);
  }

  /** ids (B, T) int32 → hidden states (B·T, d) after the final norm. Pure: call inside a tidy. */
  hidden(ids: tf.Tensor2D, options: ForwardOptions = {}, cache?: KVCache): tf.Tensor2D {
    const [B, T] = ids.shape;
    const pos = cache ? cache.length : 0;
    let x = this.embed(tf.reshape(ids, [B * T])); // (B·T, d)
    const { positions } = options;
    if (positions && (T !== 1 || positions.length !== B))
      throw new Error(
        `positions: ${positions.length} positions for ${B} rows of ${T} tokens; expected one token per row`,
      );
    const mask = attentionMask(T, pos, options.attnMask); // (T, pos + T) or (B, T, pos + T)
    // one tidy per block: what a block makes and the backward does not need goes when the block is done, not at
    // the end of the forward (in training, tensors saved for the backward are the tape's and stay)
    const { ctx, runBlock } = options;
    for (let l = 0; l < this.blocks.length; l++) {
      const block = this.blocks[l];
      const apply = (h: tf.Tensor2D, m: tf.Tensor, recompute: boolean) =>
        block.apply(h, this.rope, {
          T,
          pos,
          mask: m as typeof mask,
          cache,
          layer: l,
          ctx: recompute ? { ...ctx, recompute: true } : ctx,
          positions,
        });
      const input = x;
      x = tf.tidy(() =>
        runBlock && !cache
          ? runBlock({ apply, x: input, mask, variables: block.variables() })
          : apply(input, mask, false),
      );
      input.dispose();
    }
    if (cache) cache.length += T;
    return this.finalNorm.apply(x);
  }

  /** ids (B, T) int32 → logits (B·T, vocab). Pure (call inside a tidy); used by training. */
  forward(ids: tf.Tensor2D, options: ForwardOptions = {}): tf.Tensor2D {
    return this.project(this.hidden(ids, options));
  }

  /**
   * ids (B, T) int32 and targets (B·T) int32 → −log p(target) per token, (B·T), through the head fused with the loss
   * over vocabulary chunks (fused/head-nll.ts: no (B·T, V) logits gradient, no transposed table). With `rows`
   * (positions into B·T), only those rows go through the head and the others get 0: a loss that masks prompt and
   * padding tokens out pays no vocabulary product for them. Pure (call inside a tidy); used by training.
   */
  tokenNll(
    ids: tf.Tensor2D,
    targets: tf.Tensor1D,
    options: ForwardOptions = {},
    rows?: tf.Tensor1D,
  ): tf.Tensor1D {
    const h = this.hidden(ids, options); // (B·T, d)
    if (!rows) return headNll(h, this.vocabWeights(), targets);
    const picked = headNll(tf.gather(h, rows), this.vocabWeights(), tf.gather(targets, rows)); // (rows)
    return tf.unsortedSegmentSum(picked, rows, targets.shape[0]) as tf.Tensor1D; // (B·T)
  }

  /** Public, tidied: host ids (B rows of equal length T) → logits (B, T, vocab). Ids are range-checked. */
  logits(ids: readonly (readonly number[])[], options: ForwardOptions = {}): tf.Tensor3D {
    const input = this.idsTensor(ids);
    const out = tf.tidy(
      'logits',
      () =>
        tf.reshape(this.forward(input, options), [
          ids.length,
          ids[0].length,
          this.config.vocabSize,
        ]) as tf.Tensor3D,
    );
    input.dispose();
    return out;
  }

  /** A KV cache for `batchSize` sequences decoded together. */
  newCache(batchSize = 1): KVCache {
    return new KVCache(this.config.numLayers, batchSize);
  }

  /**
   * Incremental decoding: runs `ids` (B rows of T new tokens, at positions cache.length …) through the model,
   * appends their keys/values to `cache`, and returns the logits of each row's last token, (B, vocab).
   */
  decode(ids: readonly (readonly number[])[], cache: KVCache, options: ForwardOptions = {}): tf.Tensor2D {
    if (ids.length !== cache.batchSize)
      throw new Error(`decode: ${ids.length} rows for a cache of batch ${cache.batchSize}`);
    if (cache.length + ids[0].length > this.config.maxSeqLen) {
      throw new Error(
        `decode: position ${cache.length + ids[0].length} exceeds maxSeqLen ${this.config.maxSeqLen}`,
      );
    }
    const input = this.idsTensor(ids);
    const out = tf.tidy('decode', () => {
      const [B, T] = input.shape;
      const h = this.hidden(input, options, cache); // (B·T, d)
      const last = tf.reshape(tf.slice(tf.reshape(h, [B, T, -1]), [0, T - 1, 0], [B, 1, -1]), [
        B,
        -1,
      ]) as tf.Tensor2D; // (B, d)
      return this.project(last); // (B, vocab)
    });
    input.dispose();
    return out;
  }

  /** Host ids → int32 tensor (B, T), checking shape and range. */
  idsTensor(ids: readonly (readonly number[])[]): tf.Tensor2D {
    const B = ids.length;
    if (B === 0 || ids[0].length === 0)
      throw new Error('ids: expected at least one row of at least one token');
    const T = ids[0].length;
    const V = this.config.vocabSize;
    const flat = new Int32Array(B * T);
    for (let b = 0; b < B; b++) {
      if (ids[b].length !== T) throw new Error(`ids: row ${b} has ${ids[b].length} tokens, row 0 has ${T}`);
      for (let t = 0; t < T; t++) {
        const id = ids[b][t];
        if (!Number.isInteger(id) || id < 0 || id >= V)
          throw new Error(`token id out of range at [${b}][${t}]: ${id}; expected an integer in [0, ${V})`);
        flat[b * T + t] = id;
      }
    }
    return tf.tensor2d(flat, [B, T], 'int32');
  }

  // ---------------------------------------------------------------- vocabulary growth

  /**
   * Makes the rows of `n` new token ids, [first, first + n), trainable: rows of the frozen embedding that no token
   * uses (padding: a tokenizer with fewer ids than the model has rows) are taken over, and the vocabulary grows by
   * whatever is left. The rows are initialised to the mean of the embedding rows before `first` (the tokens in use;
   * a padding row's value was never trained), and so are the head columns when untied. `first` defaults to the
   * vocabulary size (growth only); later calls continue the added rows. The rest keeps its trainability.
   */
  addTokens(
    n: number,
    first = this.addedEmbedding ? this.addedStart + this.addedEmbedding.shape[0] : this.config.vocabSize,
  ): void {
    if (!Number.isInteger(n) || n <= 0) throw new Error(`addTokens: n must be a positive integer, got ${n}`);
    const end = this.addedEmbedding ? this.addedStart + this.addedEmbedding.shape[0] : null;
    if (
      end !== null
        ? first !== end
        : !(Number.isInteger(first) && first >= 1 && first <= this.config.vocabSize)
    )
      throw new Error(
        `addTokens: first id ${first} must be ${end !== null ? `${end}, the end of the added rows` : `an integer in [1, ${this.config.vocabSize}] (at most the vocabulary size)`}`,
      );
    const start = end === null ? first : this.addedStart;
    const grow = (old: tf.Variable | null, base: tf.Tensor, axis: 0 | 1) =>
      tf.tidy(() => {
        const used = axis === 0 ? tf.slice(base, [0, 0], [start, -1]) : tf.slice(base, [0, 0], [-1, start]);
        const mean = tf.mean(used, axis, true); // (1, d) or (d, 1)
        const rows = axis === 0 ? tf.tile(mean, [n, 1]) : tf.tile(mean, [1, n]);
        return tf.variable(old ? tf.concat([old, rows], axis) : rows, true);
      });
    const oldE = this.addedEmbedding;
    this.addedEmbedding = grow(oldE, this.embedding, 0);
    oldE?.dispose();
    if (this.head) {
      const oldH = this.addedHead;
      this.addedHead = grow(oldH, this.head.weight, 1);
      oldH?.dispose();
    }
    this.addedStart = start;
    const vocabSize = Math.max(this.config.vocabSize, first + n);
    this.config = Object.freeze({ ...this.config, vocabSize });
  }

  // ---------------------------------------------------------------- parameters

  /** Every projection slot, in layer order then q, k, v, o, gate, up, down. */
  linearSlots(): LinearSlot[] {
    const slots: LinearSlot[] = [];
    this.blocks.forEach((b, layer) => {
      const owners = {
        q: b.attn,
        k: b.attn,
        v: b.attn,
        o: b.attn,
        gate: b.mlp,
        up: b.mlp,
        down: b.mlp,
      } as const;
      for (const module of LINEAR_MODULES) {
        const owner = owners[module] as unknown as Record<LinearModule, LinearLike>;
        const part = module === 'gate' || module === 'up' || module === 'down' ? 'mlp' : 'attn';
        slots.push({
          path: `blocks.${layer}.${part}.${module}`,
          module,
          layer,
          get: () => owner[module],
          set: (l) => (owner[module] = l),
        });
      }
    });
    return slots;
  }

  /** All variables by dotted path (tinygrad get_state_dict), in a fixed order. */
  namedVariables(): Map<string, tf.Variable> {
    const out = new Map<string, tf.Variable>();
    out.set('embedding', this.embedding);
    if (this.addedEmbedding) out.set('addedEmbedding', this.addedEmbedding);
    const slots = this.linearSlots();
    this.blocks.forEach((b, l) => {
      out.set(`blocks.${l}.attnNorm.weight`, b.attnNorm.weight);
      out.set(`blocks.${l}.mlpNorm.weight`, b.mlpNorm.weight);
    });
    for (const s of slots) for (const [k, v] of s.get().namedVariables()) out.set(`${s.path}.${k}`, v);
    out.set('finalNorm.weight', this.finalNorm.weight);
    if (this.head) out.set('head.weight', this.head.weight);
    if (this.addedHead) out.set('addedHead', this.addedHead);
    return out;
  }

  /** The variables training updates, in a stable order (optimizer moments are kept by position). */
  trainableVariables(): tf.Variable[] {
    return [...this.namedVariables().values()].filter((v) => v.trainable);
  }

  /** Sets whether the base weights (everything but added token rows and adapters) are trainable. */
  setBaseTrainable(trainable: boolean): void {
    const base: tf.Variable[] = [this.embedding, this.finalNorm.weight];
    for (const b of this.blocks) base.push(b.attnNorm.weight, b.mlpNorm.weight);
    for (const s of this.linearSlots()) {
      const l = s.get();
      if (l instanceof Linear) base.push(l.weight, ...(l.bias ? [l.bias] : [])); // a bias follows its weight
    }
    if (this.head) base.push(this.head.weight);
    for (const v of base) v.trainable = trainable;
  }

  /** Number of scalar parameters (all, or trainable only). */
  parameterCount(trainableOnly = false): number {
    const vars = trainableOnly ? this.trainableVariables() : [...this.namedVariables().values()];
    return vars.reduce((n, v) => n + v.size, 0);
  }

  dispose(): void {
    this.embedding.dispose();
    this.addedEmbedding?.dispose();
    this.addedHead?.dispose();
    for (const b of this.blocks) b.dispose();
    this.finalNorm.dispose();
    this.head?.dispose();
    this.rope.dispose();
  }
}

/**
 * `base` with `rows` in place of its slices [start, start + n) along `axis` (0: rows of (V₀, d), 1: columns of
 * (d, V₀)), extended past its end when start + n > V₀: (max(V₀, start + n), d) or (d, max(…)).
 */
function spliceRows(base: tf.Tensor2D, rows: tf.Tensor2D, start: number, axis: 0 | 1): tf.Tensor2D {
  const V0 = base.shape[axis];
  const n = rows.shape[axis];
  const part = (from: number, size: number) =>
    axis === 0 ? tf.slice(base, [from, 0], [size, -1]) : tf.slice(base, [0, from], [-1, size]);
  const parts: tf.Tensor2D[] = [];
  if (start === V0) parts.push(base);
  else if (start > 0) parts.push(part(0, start));
  parts.push(rows);
  if (start + n < V0) parts.push(part(start + n, V0 - start - n));
  return tf.concat(parts, axis);
}
