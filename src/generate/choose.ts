// Which decoder 'auto' runs: the faster one, measured on the model itself the first time a shape is decoded on a
// backend (and a batch size), then remembered for the process. A few steps of each candidate, interleaved so that
// both see the same load from other processes; the median step times decide. On the wasm and cpu backends the host
// decoder wins at every shape measured so far (docs/performance.md), on a GPU backend the tfjs graph may; measuring
// covers both without a threshold to keep up to date.
import * as tf from '@tensorflow/tfjs';
import { syncReadsWork } from '../backend/kernels/backends.js';
import { getExperts } from '../experts/attach.js';
import { mergeable } from '../experts/kinds.js';
import { headSize } from '../model/config.js';
import type { LinearContext } from '../model/linear.js';
import type { Transformer } from '../model/transformer.js';
import type { ExpertName } from '../steps.js';
import { HostRows, type RowDecoder, type RowFeed } from './batch/rows.js';
import { TensorRows } from './batch/tensor-rows.js';
import { HostDecoder, TensorDecoder } from './decoder.js';
import { decodeKernelsSupported } from './host/heap.js';

export type DecoderKind = 'host' | 'tensor';

/** Steps timed per candidate: at least MIN, more while the whole measurement stays under BUDGET_MS. */
const MIN_STEPS = 3;
const MAX_STEPS = 12;
const BUDGET_MS = 60;

const chosen = new Map<string, DecoderKind>();

/** The measured choice for `model` on the active backend at `rows` sequences (cached), or undefined. */
function keyOf(model: Transformer, rows: number): string {
  const c = model.config;
  const shape = [
    c.dim,
    c.hiddenDim,
    c.numLayers,
    c.numHeads,
    c.numKvHeads,
    headSize(c),
    c.vocabSize,
    c.biases,
  ];
  const engine = decodeKernelsSupported() ? 'simd' : 'js';
  return JSON.stringify([tf.getBackend(), engine, rows, shape]);
}

/** Forgets every measured choice (tests; a backend whose speed changed). */
export function resetDecoderChoices(): void {
  chosen.clear();
}

/** The median of positive numbers. */
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * Times interleaved steps of each candidate (at most `room` each: the positions left in the context); returns the
 * index of the faster by median step time.
 */
async function faster(steps: (() => unknown)[], room: number): Promise<number> {
  const times = steps.map(() => [] as number[]);
  const t0 = performance.now();
  const most = Math.min(MAX_STEPS, room);
  for (let i = 0; i < most && (i < MIN_STEPS || performance.now() - t0 < BUDGET_MS); i++)
    for (const [j, step] of steps.entries()) {
      const t = performance.now();
      await step();
      times[j].push(performance.now() - t);
    }
  const m = times.map(median);
  return m.indexOf(Math.min(...m));
}

/** The faster single-sequence decoder for `model` under `ctx` (measured once per shape and backend). */
export async function fasterDecoder(model: Transformer, ctx?: LinearContext): Promise<DecoderKind> {
  if (!syncReadsWork()) return 'tensor'; // the host decoder copies weights synchronously: not on webgpu
  const key = keyOf(model, 1);
  const known = chosen.get(key);
  if (known) return known;
  const host = new HostDecoder(model, ctx);
  const tensor = new TensorDecoder(model, 1, ctx);
  try {
    host.step([[0]]); // the first step lays the weights out / warms up
    tensor.step([[0]]);
    const kinds: DecoderKind[] = ['host', 'tensor'];
    const room = model.config.maxSeqLen - 1;
    const best =
      room < 1 ? 'host' : kinds[await faster([() => host.step([[0]]), () => tensor.step([[0]])], room)];
    chosen.set(key, best);
    return best;
  } finally {
    host.dispose();
    tensor.dispose();
  }
}

/**
 * The faster row decoder for `rows` sequences of `model` (merged weights) starting under `expert`, measured once per
 * shape, backend and number of rows.
 */
export async function fasterRows(
  model: Transformer,
  rows: number,
  expert?: ExpertName,
): Promise<DecoderKind> {
  if (!syncReadsWork()) return 'tensor';
  const key = keyOf(model, rows);
  const known = chosen.get(key);
  if (known) return known;
  const decoders: RowDecoder[] = [new HostRows(model), new TensorRows(model, true)];
  try {
    const feeds: RowFeed[][] = [];
    for (const d of decoders) {
      const started: RowFeed[] = [];
      for (let r = 0; r < rows; r++) started.push({ row: (await d.start([0], expert)).row, id: 0, expert });
      feeds.push(started);
      if (model.config.maxSeqLen > 2) await d.step(started); // warm-up
    }
    const kinds: DecoderKind[] = ['host', 'tensor'];
    const room = model.config.maxSeqLen - 2;
    const best =
      room < 1
        ? 'host'
        : kinds[
            await faster(
              decoders.map((d, i) => () => d.step(feeds[i])),
              room,
            )
          ];
    chosen.set(key, best);
    return best;
  } finally {
    for (const d of decoders) d.dispose();
  }
}

/**
 * The row decoder of a continuous batch of `model` as `decoder` asks ('auto': measured, as fasterRows): a factory
 * for the batch's runs, and which one it is. The host decoder needs merged weights (`merged`) of experts that merge.
 */
export async function rowDecoderFor(
  model: Transformer,
  decoder: 'auto' | 'host' | 'tensor',
  options: { merged: boolean; batchSize: number; expert?: ExpertName; caller: string },
): Promise<{ kind: DecoderKind; open: () => RowDecoder }> {
  const hostable = options.merged && mergeable(getExperts(model)?.config ?? null);
  if (decoder === 'host' && !hostable)
    throw new Error(
      `${options.caller}: the host decoder needs merged weights (merged: true) and experts that merge (not a learned gate)`,
    );
  const host =
    hostable &&
    (decoder === 'host' ||
      (decoder === 'auto' && (await fasterRows(model, options.batchSize, options.expert)) === 'host'));
  return host
    ? { kind: 'host', open: () => new HostRows(model) }
    : { kind: 'tensor', open: () => new TensorRows(model, options.merged) };
}
