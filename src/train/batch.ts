// Training batches from examples (example.ts): seeded shuffle, then one example per row ('pad') or several per
// row ('pack'), as host arrays; `toTensors` makes the tensors the model and loss take.
//
// Rows. 'pad': a row holds one example, left-aligned, then padding. 'pack': examples are placed whole, in
// shuffled order, into the current row while they fit (next-fit), then a new row starts; an example is never
// split across rows. Padding positions have id = target = padId, lossMask 0, stepId 0 (question) and docId −1.
// Step ids are carried when the examples have them (chains: all or none). Because a chain's step ids run
// question → analysis → guidance → answer (→ check) in order, every row is a few contiguous step segments per
// chain: the segmented expert kernel sees runs, not scattered tokens.
//
// Attention. In a packed row every token sees only its own example (block-diagonal mask, masks.ts), so packing
// changes nothing but speed (RoPE is relative, so an example's offset in the row does not matter). Step skipping
// composes with it. `attnMask` is present when mode is 'pack' or stepSkipProb > 0; in 'pad' mode without
// skipping the causal mask alone is exact (an example's tokens come before its row's padding).
//
// Seeds. The shuffle uses seedrandom(`${seed}/shuffle/${epoch}`), step skipping seedrandom(`${seed}/skip/${epoch}`),
// so the order does not change with stepSkipProb, and each epoch has its own order.

import * as tf from '@tensorflow/tfjs';
import seedrandom from 'seedrandom';
import { ConfigError, check } from '../util/errors.js';
import { shuffleInPlace } from '../util/shuffle.js';
import type { TrainExample } from './example.js';
import { buildAttnMask, type SkipRecord } from './masks.js';

export interface BatchOptions {
  /** Rows per batch (B). */
  batchSize: number;
  /** Tokens per row (T); every example must have at most seqLen ids. */
  seqLen: number;
  /** Default 'pad'. */
  mode?: 'pad' | 'pack';
  /** Default 0. */
  seed?: string | number;
  /** Epoch number, mixed into the seeds. Default 0. */
  epoch?: number;
  /** Shuffle the examples before building rows. Default true. */
  shuffle?: boolean;
  /** Probability that a chain skips steps (masks.ts; needs step ids). Default 0. */
  stepSkipProb?: number;
  /** Id (and target) of padding positions. Default 0. */
  padId?: number;
  /** Drop a last batch with fewer than batchSize rows. Default false: it is yielded with a smaller B. */
  dropLast?: boolean;
  /**
   * Pad each batch only to its longest row (rounded up to a multiple of 8, at most seqLen) instead of seqLen.
   * Attention costs grow with T², so this saves most of the work on short chains. Default false.
   */
  trim?: boolean;
  /**
   * Pad mode: group chains of similar length into the same batch (a "sortish" order, as HF's group_by_length):
   * after the shuffle, windows of 50 batches are sorted by length, cut into batches, and the batches shuffled
   * again. With `trim`, batches then carry little padding. Default false.
   */
  groupByLength?: boolean;
}

/** Where one example sits in a batch, and what it skipped. */
export interface DocPlacement {
  row: number;
  /** Index of the example within its row (its docId). */
  doc: number;
  /** Positions [start, end) in the row. */
  start: number;
  end: number;
  /** Index into the `examples` array given to `batches`. */
  index: number;
  id: string;
  /** Stages hidden from later steps by step skipping ([] when none, or when no mask was built). */
  skipped: SkipRecord['skipped'];
}

/** One batch as host arrays, row-major (B·T, or B·T·T for attnMask). */
export interface HostBatch {
  B: number;
  T: number;
  ids: Int32Array;
  targets: Int32Array;
  /** 1 where targets is a training target. */
  lossMask: Float32Array;
  /** Step id of each token (src/steps.ts) when the examples carry them. */
  stepIds?: Int32Array;
  /** Example index within the row, −1 for padding. */
  docIds: Int32Array;
  /** Additive attention mask (B, T, T): 0 or MASKED. See the file header for when it is present. */
  attnMask?: Float32Array;
  docs: DocPlacement[];
}

/** A batch as tensors; the caller owns them and disposes them (e.g. `tf.dispose(Object.values(t))`). */
export interface BatchTensors {
  ids: tf.Tensor2D;
  targets: tf.Tensor2D;
  lossMask: tf.Tensor2D;
  attnMask?: tf.Tensor3D;
  /**
   * Positions in the flattened (B·T) batch whose loss counts (mask ≠ 0), when some do not: the output head runs on
   * these rows only (prompt and padding rows cost no vocabulary product).
   */
  lossRows?: tf.Tensor1D;
}

/** Yields the batches of one epoch (file header). Deterministic for a given seed, epoch and options. */
export function* batches(examples: readonly TrainExample[], options: BatchOptions): Generator<HostBatch> {
  const { batchSize: B, seqLen: T, stepSkipProb = 0, padId = 0, dropLast = false } = options;
  const rows = planRows(examples, options);
  const skipRng = seedrandom(`${options.seed ?? 0}/skip/${options.epoch ?? 0}`);
  const withMask = (options.mode ?? 'pad') === 'pack' || stepSkipProb > 0;
  for (let first = 0; first < rows.length; first += B) {
    const group = rows.slice(first, first + B);
    if (dropLast && group.length < B) return;
    const longest = Math.max(...group.map((row) => row.reduce((n, i) => n + examples[i].ids.length, 0)));
    const batch = fillRows(
      examples,
      group,
      options.trim ? Math.min(T, Math.ceil(longest / 8) * 8) : T,
      padId,
    );
    if (withMask) {
      const { attnMask, skips } = buildAttnMask(batch, { stepSkipProb, rng: skipRng });
      batch.attnMask = attnMask;
      for (const s of skips) {
        const placed = batch.docs.find((d) => d.row === s.row && d.doc === s.doc);
        if (placed) placed.skipped = s.skipped;
      }
    }
    yield batch;
  }
}

/** The number of batches `batches` yields with these options. */
export function countBatches(examples: readonly TrainExample[], options: BatchOptions): number {
  const rows = planRows(examples, options).length;
  return options.dropLast ? Math.floor(rows / options.batchSize) : Math.ceil(rows / options.batchSize);
}

/** Host batch → tensors: ids, targets int32 (B, T); lossMask float32 (B, T); attnMask (B, T, T). Step ids route on the host. */
export function toTensors(batch: HostBatch): BatchTensors {
  const { B, T } = batch;
  const out: BatchTensors = {
    ids: tf.tensor2d(batch.ids, [B, T], 'int32'),
    targets: tf.tensor2d(batch.targets, [B, T], 'int32'),
    lossMask: tf.tensor2d(batch.lossMask, [B, T], 'float32'),
  };
  if (batch.attnMask) out.attnMask = tf.tensor3d(batch.attnMask, [B, T, T], 'float32');
  const rows: number[] = [];
  batch.lossMask.forEach((m, i) => {
    if (m !== 0) rows.push(i);
  });
  if (rows.length > 0 && rows.length < B * T) out.lossRows = tf.tensor1d(rows, 'int32');
  return out;
}

// ---------------------------------------------------------------------------------------------------
// helpers

/** Validates the options and returns the rows as lists of example indices, in order. */
function planRows(examples: readonly TrainExample[], options: BatchOptions): number[][] {
  const { batchSize, seqLen, mode = 'pad', shuffle = true, padId = 0 } = options;
  check(Number.isInteger(batchSize) && batchSize >= 1, 'batchSize', batchSize, 'a positive integer');
  check(Number.isInteger(seqLen) && seqLen >= 1, 'seqLen', seqLen, 'a positive integer');
  check(mode === 'pad' || mode === 'pack', 'mode', mode, "'pad' or 'pack'");
  check(Number.isInteger(padId) && padId >= 0, 'padId', padId, 'a non-negative integer');
  examples.forEach((c) => {
    if (c.ids.length > seqLen) {
      throw new ConfigError(
        'seqLen',
        seqLen,
        `≥ ${c.ids.length}, the length of example ${JSON.stringify(c.id)} (encode with maxLen ≤ seqLen)`,
      );
    }
  });
  const order = examples.map((_, i) => i);
  if (shuffle) shuffleInPlace(order, seedrandom(`${options.seed ?? 0}/shuffle/${options.epoch ?? 0}`));
  if (mode === 'pad')
    return options.groupByLength ? groupByLength(examples, order, batchSize, options) : order.map((i) => [i]);
  const rows: number[][] = [];
  let used = seqLen;
  for (const i of order) {
    const n = examples[i].ids.length;
    if (used + n > seqLen) {
      rows.push([]);
      used = 0;
    }
    rows.at(-1)!.push(i);
    used += n;
  }
  return rows;
}

/** Writes the examples of `rows` into padded B×T arrays. */
function fillRows(examples: readonly TrainExample[], rows: number[][], T: number, padId: number): HostBatch {
  const B = rows.length;
  const batch: HostBatch = {
    B,
    T,
    ids: new Int32Array(B * T).fill(padId),
    targets: new Int32Array(B * T).fill(padId),
    lossMask: new Float32Array(B * T),
    stepIds: stepIdsOf(examples, rows) ? new Int32Array(B * T) : undefined,
    docIds: new Int32Array(B * T).fill(-1),
    docs: [],
  };
  rows.forEach((row, r) => {
    let at = r * T;
    row.forEach((index, doc) => {
      const c = examples[index];
      const n = c.ids.length;
      batch.ids.set(c.ids, at);
      batch.targets.set(c.targets, at);
      batch.lossMask.set(c.lossMask, at);
      if (batch.stepIds) batch.stepIds.set(c.stepIds!, at);
      batch.docIds.fill(doc, at, at + n);
      batch.docs.push({ row: r, doc, start: at - r * T, end: at - r * T + n, index, id: c.id, skipped: [] });
      at += n;
    });
  });
  return batch;
}

/** Whether the examples of `rows` carry step ids (all of them), or none; a mix is an error. */
function stepIdsOf(examples: readonly TrainExample[], rows: number[][]): boolean {
  const indices = rows.flat();
  const withSteps = indices.filter((i) => examples[i].stepIds !== undefined).length;
  if (withSteps > 0 && withSteps < indices.length) {
    const bare = examples[indices.find((i) => !examples[i].stepIds)!];
    throw new ConfigError(
      'examples',
      bare.id,
      'examples that all carry stepIds (chains) or none (plain text), not a mix in one batch',
    );
  }
  return withSteps > 0;
}

/** Rows of one example each, in an order where every run of `batchSize` rows has examples of similar length. */
function groupByLength(
  examples: readonly TrainExample[],
  order: number[],
  batchSize: number,
  options: BatchOptions,
): number[][] {
  const window = 50 * batchSize;
  const batchesOfRows: number[][][] = [];
  for (let w = 0; w < order.length; w += window) {
    const sorted = order
      .slice(w, w + window)
      .sort((a, b) => examples[b].ids.length - examples[a].ids.length || a - b);
    for (let i = 0; i < sorted.length; i += batchSize)
      batchesOfRows.push(sorted.slice(i, i + batchSize).map((c) => [c]));
  }
  // shuffle the full batches; a short one (the end of the last window) stays last, so slicing by batchSize
  // downstream cuts exactly these groups
  const full = batchesOfRows.filter((b) => b.length === batchSize);
  const short = batchesOfRows.filter((b) => b.length < batchSize);
  const batchOrder = full.map((_, i) => i);
  shuffleInPlace(batchOrder, seedrandom(`${options.seed ?? 0}/groups/${options.epoch ?? 0}`));
  return [...batchOrder.flatMap((i) => full[i]), ...short.flat()];
}
