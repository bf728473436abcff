// Splitting micro-batches between a GradientPool's workers. When a step has fewer micro-batches than workers (the
// default microBatchSize = batchSize gives one), each micro-batch's rows are cut into contiguous shards, one per
// worker, and the shards' results are combined into exactly what the whole micro-batch gives, up to float rounding:
//   - the loss is a masked mean over trained tokens (model/loss.ts `maskedMeanNll`), so with N_s trained tokens
//     in shard s and N = Σ N_s:  ∇(Σ_i m_i·nll_i / N) = Σ_s (N_s / N)·∇(Σ_{i∈s} m_i·nll_i / N_s);
//   - every other part of the forward is per row (attention, norms, experts), and step-skip masks are per row;
//   - MoTE question tokens get the expert drawn for their chain in the whole micro-batch: the main thread builds
//     the micro-batch's route from its seed (experts `batchRoute`) and gives each shard its rows of it.
// Micro-batches of experts that are not `shardable` (experts/kinds.ts) stay whole: moe-topk's Switch balance loss
// is a product of means over all the micro-batch's tokens, not a sum over shards.
// A micro-batch's gradient stays its shards' weighted sum here; reduce.ts reads every micro-batch's in one pass.
import type * as tf from '@tensorflow/tfjs';
import type { ExpertConfig } from '../../experts/config.js';
import { batchRoute, shardable } from '../../experts/kinds.js';
import type { HostBatch } from '../batch.js';
import type { GradientPool } from './pool.js';
import type { MicroResult } from './protocol.js';
import type { WeightedGradient } from './reduce.js';

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
 * A micro-batch's outcome on the host: its shards' figures combined, its gradient left as their weighted sum (the
 * step's reduction, reduce.ts `reduceGradient`, reads every micro-batch's in one pass).
 */
export interface MicroOutcome extends Omit<MicroResult, 'grads'> {
  gradient: WeightedGradient;
}

/** A whole micro-batch's result as an outcome. */
export function wholeOutcome(r: MicroResult): MicroOutcome {
  const { grads, ...rest } = r;
  return { ...rest, gradient: { parts: [grads], weights: [1] } };
}

/**
 * One micro-batch's outcome from its shards' results (in row order) and their trained-token counts: gradients and
 * loss weighted by N_s / max(N, 1), as `maskedMeanNll` averages; the per-token NLL concatenated; a variable is
 * missing only when no shard reached it. The gradients are not combined here (reduce.ts).
 */
export function combineShards(
  index: number,
  shards: readonly MicroResult[],
  tokens: readonly number[],
): MicroOutcome {
  if (shards.length === 1) return { ...wholeOutcome(shards[0]), index };
  const total = Math.max(
    1,
    tokens.reduce((a, b) => a + b, 0),
  );
  const w = tokens.map((t) => t / total);
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
  return {
    index,
    gradient: { parts: shards.map((s) => s.grads), weights: w },
    missing: missingInAll(shards),
    nll,
    loss,
    balance,
  };
}

/** The variables none of `results` reached. */
export function missingInAll(results: readonly { missing: readonly string[] }[]): string[] {
  if (results.length === 0) return [];
  return results[0].missing.filter((name) => results.every((r) => r.missing.includes(name)));
}

/**
 * The gradients of one optimizer step's micro-batches on `pool`, one outcome per micro-batch in order: whole
 * micro-batches when there are at least as many as workers, else shards of them (file header).
 */
export async function stepGradients(
  pool: GradientPool,
  step: number,
  vars: ReadonlyMap<string, tf.Variable>,
  items: readonly MicroBatchItem[],
  activationCheckpointing = false,
): Promise<MicroOutcome[]> {
  const experts = pool.spec.experts?.config ?? null;
  const k = shardsPerMicroBatch(experts, pool.size, items.length);
  if (k === 1) return (await pool.gradients(step, vars, items, activationCheckpointing)).map(wholeOutcome);
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
