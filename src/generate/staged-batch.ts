// Batched staged generation: many prompts decoded together, ONE batched forward per token, each sequence
// with its own KV cache row and its own active step expert (a per-row Route). Rows in different stages are mixed
// in that one forward: with `merged` (the default) each row goes through its stage's merged weight (one matmul per
// stage present, rows selected: MoteLinear.mergedPerToken, the fastest option measured on wasm at batch 8: a few
// matmuls cost fewer dispatches than mixing unmerged experts); with `merged: false` the unmerged experts are mixed per row (segmented kernel, experts/kernels/).
// Every row runs the same StagedSequence as generateStaged, with its own sampler seeded alike, so a row writes
// what its prompt alone would, up to float rounding.
//
// Padding: prompts are left-padded to the longest of their batch and the pad keys masked (an additive (B, T, S)
// attention mask); RoPE is relative, so a row's attention scores equal its unpadded ones up to rounding.
// Finished rows leave the batch (their cache rows are dropped by a gather), so later steps cost only live rows.
// Batches: prompts are grouped by length (a stable sort) into batches of `batchSize`; a batch runs until its last
// row finishes, then the next starts (freed rows are not refilled mid-batch). Results come back in input order.
// Context: a padded row's positions are shifted by its padding, so near the model's context it stops ('context')
// up to (longest prompt − its prompt) tokens earlier than it would alone.
import * as tf from '@tensorflow/tfjs';
import type { Turn } from '../aligncot/chain.js';
import { getExperts } from '../experts/attach.js';
import { stageRoute } from '../experts/kinds.js';
import { routeOf, withRoute } from '../experts/routing.js';
import { MASKED } from '../model/attention.js';
import type { KVCache } from '../model/kv-cache.js';
import type { LinearContext } from '../model/linear.js';
import type { Transformer } from '../model/transformer.js';
import type { ExpertName } from '../steps.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { check } from '../util/errors.js';
import { createSampler } from './sampler.js';
import { resolveStagedConfig, stagedPlan, stagedPrompt } from './staged.js';
import { StagedSequence } from './staged-sequence.js';
import type { StagedConfig, StagedEvent, StagedPlan, StagedResult } from './types.js';

export interface StagedBatchConfig extends StagedConfig {
  /** Most sequences decoded together. Default 8. */
  batchSize: number;
}

export const DEFAULT_STAGED_BATCH_SIZE = 8;

/** Token id in the pad positions (any valid id: pad keys are masked and pad outputs unread). */
const PAD = 0;

/** Merges the batch size into the staged defaults and validates; the host decoder (one sequence) is refused. */
export function resolveStagedBatchConfig(
  partial: Partial<StagedBatchConfig> = {},
): Readonly<StagedBatchConfig> {
  const { batchSize = DEFAULT_STAGED_BATCH_SIZE, ...rest } = partial;
  check(Number.isInteger(batchSize) && batchSize > 0, 'batchSize', batchSize, 'a positive integer');
  const c = resolveStagedConfig(rest);
  check(
    c.decoder !== 'host',
    'decoder',
    c.decoder,
    "'auto' or 'tensor' (the host decoder runs one sequence)",
  );
  return Object.freeze({ ...c, batchSize });
}

/** Receives each prompt's events as they happen: `index` is the prompt's place in the input. */
export type StagedBatchEventHandler = (index: number, event: StagedEvent) => void;

/**
 * Staged answers to every question, decoded `batchSize` at a time in one batched forward per token. Returns one
 * StagedResult per question, in input order (each as generateStaged would return it alone); `onEvent` streams
 * every prompt's events (its 'done' last).
 */
export async function generateStagedBatch(
  model: Transformer,
  tokenizer: Tokenizer,
  questions: readonly (string | readonly Turn[])[],
  config: Partial<StagedBatchConfig> = {},
  onEvent?: StagedBatchEventHandler,
): Promise<StagedResult[]> {
  if (!Array.isArray(questions) || questions.length === 0)
    throw new Error('generateStagedBatch: expected a non-empty list of questions');
  const c = resolveStagedBatchConfig(config);
  const plan = stagedPlan(model, tokenizer, c, 'generateStagedBatch');
  const prompts = questions.map((q) => stagedPrompt(model, tokenizer, q, 'generateStagedBatch'));
  const byLength = prompts.map((_, i) => i).sort((a, b) => prompts[a].length - prompts[b].length);
  const results: StagedResult[] = new Array(questions.length);
  for (let i = 0; i < byLength.length; i += c.batchSize) {
    const batch = byLength.slice(i, i + c.batchSize);
    const rows = batch.map((index) => ({ index, prompt: prompts[index] }));
    const done = await decodeBatch(model, plan, c, rows, onEvent);
    batch.forEach((index, b) => {
      results[index] = done[b];
    });
  }
  return results;
}

/** Decodes one batch to the end; returns its rows' results in row order. */
async function decodeBatch(
  model: Transformer,
  plan: StagedPlan,
  c: Readonly<StagedBatchConfig>,
  rows: readonly { index: number; prompt: readonly number[] }[],
  onEvent: StagedBatchEventHandler | undefined,
): Promise<StagedResult[]> {
  const seqs = rows.map(() => new StagedSequence(plan, createSampler(c)));
  const T = Math.max(...rows.map((r) => r.prompt.length));
  const pads = rows.map((r) => T - r.prompt.length);
  let live = rows.map((_, b) => b); // batch rows still decoding, in cache-row order
  let cache = model.newCache(rows.length);
  try {
    const ids = rows.map((r, b) => [...new Array<number>(pads[b]).fill(PAD), ...r.prompt]);
    let logits = await step(
      model,
      cache,
      ids,
      routeFor(model, [c.questionExpert], c.merged),
      padMask(pads, T, 0),
    );
    for (;;) {
      const fed: number[] = []; // positions in `live` of the rows that feed a token
      const feeds: { id: number; expert: ExpertName }[] = [];
      live.forEach((b, j) => {
        const feed = seqs[b].advance(logits[j], cache.length);
        for (const e of seqs[b].takeEvents()) onEvent?.(rows[b].index, e);
        if (feed) {
          fed.push(j);
          feeds.push(feed);
        }
      });
      if (fed.length === 0) break;
      if (fed.length < live.length) {
        const kept = cache.gather(fed);
        cache.dispose();
        cache = kept;
        live = fed.map((j) => live[j]);
      }
      const livePads = live.map((b) => pads[b]);
      logits = await step(
        model,
        cache,
        feeds.map((f) => [f.id]),
        routeFor(
          model,
          feeds.map((f) => f.expert),
          c.merged,
        ),
        padMask(livePads, 1, cache.length),
      );
    }
  } finally {
    cache.dispose();
  }
  return seqs.map((s) => s.result);
}

/** One batched forward of `ids` (B rows) → each row's next-token logits; frees the route and mask it is given. */
async function step(
  model: Transformer,
  cache: KVCache,
  ids: number[][],
  ctx: LinearContext | undefined,
  attnMask: tf.Tensor3D | undefined,
): Promise<Float32Array[]> {
  try {
    const out = model.decode(ids, cache, { ctx, attnMask }); // (B, vocab)
    const flat = (await out.data()) as Float32Array;
    out.dispose();
    const V = out.shape[1];
    return ids.map((_, b) => flat.subarray(b * V, (b + 1) * V));
  } finally {
    attnMask?.dispose();
    routeOf(ctx)?.dispose();
  }
}

/**
 * The routing of one forward: one expert for every token (one name), or one per row of single tokens (B names);
 * experts/ decides how the attached kind routes them (kinds.ts `stageRoute`).
 */
function routeFor(
  model: Transformer,
  experts: readonly ExpertName[],
  merged: boolean,
): LinearContext | undefined {
  const route = stageRoute(getExperts(model)?.config ?? null, experts, merged);
  return route && withRoute(route);
}

/**
 * Additive mask (B, T, S) hiding each row's left padding (the first `pads[b]` keys) from its T queries at positions
 * [pos, pos + T), S = pos + T; undefined when no row is padded. Pad queries see only pad keys (all masked alike, so
 * their softmax stays finite); their outputs are never read.
 */
function padMask(pads: readonly number[], T: number, pos: number): tf.Tensor3D | undefined {
  if (pads.every((p) => p === 0)) return undefined;
  const B = pads.length;
  const S = pos + T;
  const m = new Float32Array(B * T * S);
  for (let b = 0; b < B; b++)
    for (let i = 0; i < T; i++) m.fill(MASKED, (b * T + i) * S, (b * T + i) * S + pads[b]);
  return tf.tensor3d(m, [B, T, S]);
}
