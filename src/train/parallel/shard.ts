// Splitting micro-batches between a GradientPool's workers When a step has fewer micro-batches than
// workers (the default microBatchSize = batchSize gives one), each micro-batch's rows are cut into contiguous
// shards, one per worker, and the shards' results are combined into exactly what the whole micro-batch gives, up
// to float rounding:
//   - the loss is a masked mean over trained tokens (model/loss.ts `maskedMeanNll`), so with N_s trained tokens
//     in shard s and N = Σ N_s:  ∇(Σ_i m_i·nll_i / N) = Σ_s (N_s / N)·∇(Σ_{i∈s} m_i·nll_i / N_s);
//   - every other part of the forward is per row (attention, norms, experts), and step-skip masks are per row;
//   - MoTE question tokens get the expert drawn for their chain in the whole micro-batch: the main thread builds
//     the micro-batch's route from its seed (experts `batchRoute`) and gives each shard its rows of it.
// Micro-batches of experts that are not `shardable` (experts/kinds.ts) stay whole: moe-topk's Switch balance loss
// is a product of means over all the micro-batch's tokens, not a sum over shards.
import type * as tf from '@tensorflow/tfjs';
import type { ExpertConfig } from '../../experts/config.js';
import { batchRoute, shardable } from '../../experts/kinds.js';
import type { HostBatch } from '../batch.js';
import type { GradientPool } from './pool.js';
import type { MicroResult } from './protocol.js';

/** A micro-batch of a step and the seed of its routing (as the in-process trainer uses them). */
export interface MicroBatchItem {
  batch: HostBatch;
  routeSeed: string;
}

/**
 * Shards per micro-batch so that `workers` workers are busy with `microBatches` micro-batches: ⌊workers /
 * microBatches⌋ (at least 1); 1 when the experts cannot be sharded (see the file header).
 */
export function shardsPerMicroBatch(
  experts: Readonly<ExpertConfig> | null,
  workers: number,
  microBatches: number,
): number {
  if (!shardable(experts)) return 1;
  return Math.max(1, Math.floor(workers / Math.max(1, microBatches)));
}

/** Rows [start, end) of `parts` contiguous shards of B rows, as even as possible (at most B shards). */
export function splitRows(B: number, parts: number): [number, number][] {
  const n = Math.max(1, Math.min(B, parts));
  return Array.from({ length: n }, (_, j): [number, number] => [
    Math.floor((j * B) / n),
    Math.floor(((j + 1) * B) / n),
  ]);
}

/** Rows [start, end) of a host batch, as a batch of its own (copies; doc placements renumbered). */
export function sliceRows(batch: HostBatch, start: number, end: number): HostBatch {
  const { T } = batch;
  const rows = <A extends Int32Array | Float32Array>(a: A, width = T) =>
    a.slice(start * width, end * width) as A;
  return {
    B: end - start,
    T,
    ids: rows(batch.ids),
    targets: rows(batch.targets),
    lossMask: rows(batch.lossMask),
    stepIds: batch.stepIds && rows(batch.stepIds),
    docIds: rows(batch.docIds),
    attnMask: batch.attnMask && rows(batch.attnMask, T * T),
    docs: batch.docs.filter((d) => d.row >= start && d.row < end).map((d) => ({ ...d, row: d.row - start })),
  };
}

/** Trained tokens of a batch (its loss-mask sum): the weight of a shard. */
export function trainedTokens(batch: HostBatch): number {
  let n = 0;
  for (const m of batch.lossMask) n += m;
  return n;
}

/**
 * One micro-batch's result from its shards' (in row order) and their trained-token counts: gradients and loss
 * weighted by N_s / max(N, 1), as `maskedMeanNll` averages; the per-token NLL concatenated; a variable is missing
 * only when no shard reached it. The gradients are combined into the first shard's array, in one pass (the main
 * thread runs this while the workers wait; the shards' arrays are the caller's, transferred from the workers).
 */
export function combineShards(
  index: number,
  shards: readonly MicroResult[],
  tokens: readonly number[],
): MicroResult {
  if (shards.length === 1) return { ...shards[0], index };
  const total = Math.max(
    1,
    tokens.reduce((a, b) => a + b, 0),
  );
  const w = tokens.map((t) => t / total);
  const grads = shards[0].grads;
  // missing entries are 0; shards without trained tokens add nothing
  const rest = shards
    .slice(1)
    .map((s, j) => ({ w: w[j + 1], g: s.grads }))
    .filter((p) => p.w > 0);
  if (rest.length === 1) {
    const { w: w1, g: g1 } = rest[0]; // two shards, the usual split: one pass without an inner loop
    for (let i = 0; i < grads.length; i++) grads[i] = w[0] * grads[i] + w1 * g1[i];
  } else {
    for (let i = 0; i < grads.length; i++) {
      let g = w[0] * grads[i];
      for (const p of rest) g += p.w * p.g[i];
      grads[i] = g;
    }
  }
  const nll = new Float32Array(shards.reduce((n, s) => n + s.nll.length, 0));
  let loss = 0;
  let balance = 0;
  let at = 0;
  shards.forEach((s, j) => {
    nll.set(s.nll, at);
    at += s.nll.length;
    loss += w[j] * s.loss;
    balance += w[j] * s.balance; // 0: moe-topk, the only kind with a balance loss, is never split
  });
  const missing = shards[0].missing.filter((name) => shards.every((s) => s.missing.includes(name)));
  return { index, grads, missing, nll, loss, balance };
}

/**
 * The mean of the micro-batches' gradients, on the host: summed in micro-batch order with float32 adds, then
 * divided by their number, so the values are those of the in-process trainer's tensor adds and division. Written
 * into the first result's array; a variable is missing only when no micro-batch reached it.
 */
export function meanGradient(results: readonly MicroResult[]): { grads: Float32Array; missing: string[] } {
  if (results.length === 0) throw new Error('meanGradient: no micro-batch results');
  const grads = results[0].grads;
  for (const r of results.slice(1)) for (let i = 0; i < grads.length; i++) grads[i] += r.grads[i]; // missing: 0
  const n = results.length;
  if (n > 1) for (let i = 0; i < grads.length; i++) grads[i] /= n;
  const missing = results[0].missing.filter((name) => results.every((r) => r.missing.includes(name)));
  return { grads, missing };
}

/**
 * The gradients of one optimizer step's micro-batches on `pool`, one result per micro-batch in order: whole
 * micro-batches when there are at least as many as workers, else shards of them (file header).
 */
export async function stepGradients(
  pool: GradientPool,
  step: number,
  vars: ReadonlyMap<string, tf.Variable>,
  items: readonly MicroBatchItem[],
  activationCheckpointing = false,
): Promise<MicroResult[]> {
  const experts = pool.spec.experts?.config ?? null;
  const k = shardsPerMicroBatch(experts, pool.size, items.length);
  if (k === 1) return pool.gradients(step, vars, items, activationCheckpointing);
  const work: { batch: HostBatch; routeSeed: string; route?: Int32Array }[] = [];
  const owner: { micro: number; tokens: number }[] = [];
  items.forEach(({ batch, routeSeed }, micro) => {
    const route = batchRoute(experts, batch, { seed: routeSeed, training: true });
    const ids = route?.stepIds ?? undefined; // per-token experts (step routing); none otherwise
    route?.dispose();
    for (const [start, end] of splitRows(batch.B, k)) {
      const shard = sliceRows(batch, start, end);
      work.push({ batch: shard, routeSeed, route: ids?.slice(start * batch.T, end * batch.T) });
      owner.push({ micro, tokens: trainedTokens(shard) });
    }
  });
  const results = await pool.gradients(step, vars, work, activationCheckpointing);
  return items.map((_, micro) => {
    const mine = results.filter((_, i) => owner[i].micro === micro);
    const tokens = owner.filter((o) => o.micro === micro).map((o) => o.tokens);
    return combineShards(micro, mine, tokens);
  });
}
