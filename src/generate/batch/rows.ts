// Row decoders: the engines of continuous batching (continuous.ts). A batch holds up to N sequences in rows; a
// sequence takes a row when it starts (its prompt is fed alone into that row), leaves it when it ends, and in between
// every live row gets one token per step in one batched forward, each row under its own expert. Two engines:
// `HostRows` (here: the WebAssembly host decoder, one KV cache per sequence, rows of one expert in one matmul per
// projection) and `TensorRows` (tensor-rows.ts: the tfjs graph, one KV cache tensor for the batch).
import { getExperts } from '../../experts/attach.js';
import { stageRoute } from '../../experts/kinds.js';
import { withRoute } from '../../experts/routing.js';
import type { LinearContext } from '../../model/linear.js';
import type { Transformer } from '../../model/transformer.js';
import type { ExpertName } from '../../steps.js';
import { PREFILL_CHUNK } from '../host/decoder.js';
import { HostForward, type HostRow, HostSequence } from '../host/forward.js';
import { type HostModel, hostModel, type WeightSet } from '../host/weights.js';

/** A row's handle (opaque to the scheduler). */
export type Row = object;

/** One token for one row, routed through `expert` (undefined: the model as it is, no routing). */
export interface RowFeed {
  row: Row;
  id: number;
  expert?: ExpertName;
}

export interface RowDecoder {
  /** Starts a sequence in a new row: feeds `prompt` under `expert`; returns the row and its next-token logits. */
  start(prompt: readonly number[], expert?: ExpertName): Promise<{ row: Row; logits: Float32Array }>;
  /** One token for each live row (all of them, any order); returns each feed's next-token logits, in feed order. */
  step(feeds: readonly RowFeed[]): Promise<Float32Array[]>;
  /** Positions a row has consumed (its prompt and its tokens). */
  position(row: Row): number;
  /** Frees a row (its sequence ended). */
  end(row: Row): void;
  dispose(): void;
}

/**
 * The routing context of tokens of `experts` (one name for all rows, or one per row) for the experts attached to
 * `model`; undefined when no routing is needed (no experts, or no expert named).
 */
export function routingFor(
  model: Transformer,
  experts: readonly (ExpertName | undefined)[],
  merged: boolean,
): LinearContext | undefined {
  if (experts.some((e) => e === undefined)) return undefined;
  const route = stageRoute(getExperts(model)?.config ?? null, experts as ExpertName[], merged);
  return route && withRoute(route);
}

/** A sequence of HostRows: its KV cache in the host memory. */
class HostRowState {
  constructor(readonly seq: HostSequence) {}
}

/**
 * Rows on the host decoder (merged weights only): each sequence keeps its own KV cache, so rows at different
 * positions need no padding and a sequence gives exactly what it gives alone (the same kernels, row by row); the
 * rows of one expert share one matmul per projection, which reads the weights once for all of them.
 */
export class HostRows implements RowDecoder {
  private readonly hm: HostModel;
  private readonly fwd: HostForward;
  private readonly sets = new Map<ExpertName | undefined, WeightSet>();
  private readonly live = new Set<HostRowState>();

  constructor(private readonly model: Transformer) {
    this.hm = hostModel(model);
    this.fwd = new HostForward(this.hm);
  }

  /** The weights of `expert`'s merged routing (laid out on first use; again if evicted since). */
  private setOf(expert: ExpertName | undefined): WeightSet {
    let set = this.sets.get(expert);
    if (!set || !this.hm.holds(set)) {
      const ctx = routingFor(this.model, [expert], true);
      set = this.hm.weightSet(ctx);
      this.sets.set(expert, set);
    }
    return set;
  }

  async start(prompt: readonly number[], expert?: ExpertName) {
    if (prompt.length === 0) throw new Error('HostRows.start: expected at least one prompt token');
    const state = new HostRowState(new HostSequence(this.hm));
    const set = this.setOf(expert);
    let logits: Float32Array[] = [];
    try {
      for (let i = 0; i < prompt.length; i += PREFILL_CHUNK) {
        const chunk = prompt.slice(i, i + PREFILL_CHUNK);
        const last = i + chunk.length === prompt.length;
        logits = this.fwd.run(
          set,
          chunk.map((token, j) => ({ seq: state.seq, token, logits: last && j === chunk.length - 1 })),
        );
      }
    } catch (e) {
      state.seq.reset();
      throw e;
    }
    this.live.add(state);
    return { row: state, logits: logits[0] };
  }

  async step(feeds: readonly RowFeed[]): Promise<Float32Array[]> {
    const out: Float32Array[] = new Array(feeds.length);
    // one forward per expert present, its rows together
    const groups = new Map<ExpertName | undefined, number[]>();
    feeds.forEach((f, i) => {
      const g = groups.get(f.expert);
      if (g) g.push(i);
      else groups.set(f.expert, [i]);
    });
    for (const [expert, idx] of groups) {
      const rows: HostRow[] = idx.map((i) => ({
        seq: this.state(feeds[i].row).seq,
        token: feeds[i].id,
        logits: true,
      }));
      const logits = this.fwd.run(this.setOf(expert), rows);
      idx.forEach((i, j) => {
        out[i] = logits[j];
      });
    }
    return out;
  }

  position(row: Row): number {
    return this.state(row).seq.position;
  }

  end(row: Row): void {
    const s = this.state(row);
    s.seq.reset();
    this.live.delete(s);
  }

  private state(row: Row): HostRowState {
    if (!(row instanceof HostRowState) || !this.live.has(row)) throw new Error('HostRows: not a live row');
    return row;
  }

  dispose(): void {
    for (const s of this.live) s.seq.reset();
    this.live.clear();
    this.fwd.dispose();
  }
}
