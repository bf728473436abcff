// The measurement behind 'auto' (decoder-choice.ts keeps the choice): a few decode steps of the host and the tensor
// decoder on the model itself, interleaved (util/timing.ts) so that both see the same load from other processes,
// after one untimed step each (the host decoder lays the weights out for its kernels on its first). Short next to a
// generation: ROUNDS steps of each, at the start of the context, where attention costs least and the weights'
// reading (what differs between the decoders) dominates.
import { getExperts } from '../experts/attach.js';
import { mergeable } from '../experts/kinds.js';
import type { LinearContext } from '../model/linear.js';
import type { Transformer } from '../model/transformer.js';
import type { ExpertName } from '../steps.js';
import { timeRounds, wallMs } from '../util/timing.js';
import { HostRows, type RowDecoder, type RowFeed } from './batch/rows.js';
import { TensorRows } from './batch/tensor-rows.js';
import { HostDecoder, TensorDecoder } from './decoder.js';
import { chooseDecoder, type DecoderKind, type DecoderTimes } from './decoder-choice.js';
import { releaseHostModel } from './host/weights.js';

export type { DecoderKind } from './decoder-choice.js';

/** Timed steps per decoder (the median counts), after one untimed. */
const ROUNDS = 3;

/** The timed rounds that fit a context of `maxSeqLen` after `used` positions (0: too small to measure). */
const roundsIn = (maxSeqLen: number, used: number) => Math.min(ROUNDS, maxSeqLen - used - 1);

/** Step times of two candidates, interleaved; a context too small to measure in counts the host as faster. */
async function measure(
  steps: Record<DecoderKind, () => Promise<unknown>>,
  rounds: number,
): Promise<DecoderTimes> {
  if (rounds < 1) return { host: [0], tensor: [1] };
  const names: DecoderKind[] = ['host', 'tensor'];
  const times = await timeRounds(
    names.map((n) => [n, () => wallMs(steps[n])] as const),
    1,
    rounds,
  );
  return times as DecoderTimes;
}

/**
 * `chooseDecoder` for `model`, measuring with `measure` the first time; when that measurement picks the tensor
 * decoder, the host layout it made is let go (for a large model, a copy of every weight).
 */
async function choose(
  model: Transformer,
  rows: number,
  measure: () => Promise<DecoderTimes>,
): Promise<DecoderKind> {
  let measured = false;
  const kind = await chooseDecoder(model.config, rows, () => {
    measured = true;
    return measure();
  });
  if (measured && kind === 'tensor') releaseHostModel(model);
  return kind;
}

/** The faster single-sequence decoder for `model` under `ctx` (measured once per shape and device). */
export function fasterDecoder(model: Transformer, ctx?: LinearContext): Promise<DecoderKind> {
  return choose(model, 1, async () => {
    const host = new HostDecoder(model, ctx);
    const tensor = new TensorDecoder(model, 1, ctx);
    try {
      return await measure(
        { host: () => host.next([[0]]), tensor: () => tensor.next([[0]]) },
        roundsIn(model.config.maxSeqLen, 0),
      );
    } finally {
      host.dispose();
      tensor.dispose();
    }
  });
}

/**
 * The faster row decoder for `rows` sequences of `model` (merged weights) starting under `expert`, measured once per
 * shape, device and number of rows: every row one token per step, as a full continuous batch runs.
 */
export function fasterRows(model: Transformer, rows: number, expert?: ExpertName): Promise<DecoderKind> {
  return choose(model, rows, async () => {
    const decoders = { host: new HostRows(model), tensor: new TensorRows(model, true) };
    try {
      const feeds = {} as Record<DecoderKind, RowFeed[]>;
      for (const [kind, d] of Object.entries(decoders) as [DecoderKind, RowDecoder][]) {
        feeds[kind] = [];
        for (let r = 0; r < rows; r++)
          feeds[kind].push({ row: (await d.start([0], expert)).row, id: 0, expert });
      }
      return await measure(
        { host: () => decoders.host.step(feeds.host), tensor: () => decoders.tensor.step(feeds.tensor) },
        roundsIn(model.config.maxSeqLen, 1),
      );
    } finally {
      decoders.host.dispose();
      decoders.tensor.dispose();
    }
  });
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
