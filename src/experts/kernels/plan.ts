// Segment plans for the segmented kernel (Punica SGMV semantics): which token rows go through which expert.
// Built on the host, from routing known before the forward (step ids, once per Route) or read once per layer
// (a top-k gate). Tokens are grouped by expert; a group that is one contiguous run of rows (the usual case for
// an AlignCoT chain) is sliced, not gathered.
import * as tf from '@tensorflow/tfjs';

export interface Segment {
  /** Routed expert index, or −1 for the shared expert alone. */
  readonly expert: number;
  /** Which top-k choice this segment serves (0 … k−1); pass 0 also carries the shared expert. */
  readonly pass: number;
  /** Offset of this segment's rows in `SegmentPlan.rows`. */
  readonly offset: number;
  /** Token rows, ascending (a view into `SegmentPlan.rows`). */
  readonly rows: Int32Array;
  /** First row when `rows` is the contiguous run first … first + count − 1, else −1. */
  readonly first: number;
}

export class SegmentPlan {
  private devRows: tf.Tensor1D | null = null;
  private devInverse: tf.Tensor2D | null = null;
  private readonly devTables = new Map<string, tf.Tensor>();

  constructor(
    readonly numTokens: number,
    readonly numPasses: number,
    /** Every segment's rows, concatenated in segment order, (S). */
    readonly rows: Int32Array,
    readonly segments: readonly Segment[],
  ) {}

  /** Segments of one pass, in order. */
  pass(p: number): Segment[] {
    return this.segments.filter((s) => s.pass === p);
  }

  /** `rows` on the device, int32 (S), for backends that gather on the device. Built once, reused by every layer. */
  rowsTensor(): tf.Tensor1D {
    if (!this.devRows || this.devRows.isDisposed) this.devRows = tf.tensor1d(this.rows, 'int32');
    return this.devRows;
  }

  /**
   * (passes, N) int32: for token t, its position among the concatenated rows of pass p's segments, or that pass's
   * row count (the index of an appended zero row) when t has no segment in pass p. Scatter = concat + gather.
   */
  inverseTensor(): tf.Tensor2D {
    if (!this.devInverse || this.devInverse.isDisposed) {
      const N = this.numTokens;
      const inv = new Int32Array(this.numPasses * N);
      for (let p = 0; p < this.numPasses; p++) {
        let pos = 0;
        for (const s of this.pass(p)) for (const t of s.rows) inv[p * N + t] = pos++;
        for (let t = 0; t < N; t++) if (!this.covers(p, t)) inv[p * N + t] = pos;
      }
      this.devInverse = tf.tensor2d(inv, [this.numPasses, N], 'int32');
    }
    return this.devInverse;
  }

  /**
   * A device tensor derived from this plan (e.g. a kernel's index tables), built by `build` once and reused by every
   * layer while it lives (a tensor built inside a tidy is rebuilt once that tidy has disposed it, as rowsTensor).
   */
  deviceTable<T extends tf.Tensor>(key: string, build: () => T): T {
    let t = this.devTables.get(key) as T | undefined;
    if (!t || t.isDisposed) this.devTables.set(key, (t = build()));
    return t;
  }

  private coverage: Uint8Array[] | null = null;

  /** Whether token t has a segment in pass p. */
  covers(p: number, t: number): boolean {
    if (!this.coverage) {
      this.coverage = Array.from({ length: this.numPasses }, () => new Uint8Array(this.numTokens));
      for (const s of this.segments) for (const r of s.rows) this.coverage[s.pass][r] = 1;
    }
    return this.coverage[p][t] === 1;
  }

  dispose(): void {
    this.devRows?.dispose();
    this.devInverse?.dispose();
    this.devRows = this.devInverse = null;
    for (const t of this.devTables.values()) t.dispose();
    this.devTables.clear();
  }
}

/** Groups (token, expert) choices into segments; `choices[t·k + j]` is token t's j-th expert (−1: none). */
function group(choices: Int32Array, k: number, numExperts: number, sharedOnly: boolean): SegmentPlan {
  const N = choices.length / k;
  const segments: Segment[] = [];
  const rows = new Int32Array(choices.length);
  let offset = 0;
  for (let p = 0; p < k; p++) {
    // pass 0 has a shared-only segment (expert −1) for tokens routed to no step expert
    const experts = p === 0 && sharedOnly ? [...Array(numExperts).keys(), -1] : [...Array(numExperts).keys()];
    for (const e of experts) {
      const start = offset;
      for (let t = 0; t < N; t++) if (choices[t * k + p] === e) rows[offset++] = t;
      const count = offset - start;
      if (count === 0) continue;
      const first = rows[offset - 1] - rows[start] === count - 1 ? rows[start] : -1;
      segments.push({ expert: e, pass: p, offset: start, rows: rows.subarray(start, offset), first });
    }
  }
  return new SegmentPlan(N, k, rows.subarray(0, offset), segments);
}

/** Plan of hard step routing: one pass; tokens with id −1 form a shared-only segment when there is a shared expert. */
export function planFromStepIds(stepIds: Int32Array, numExperts: number, shared: boolean): SegmentPlan {
  return group(stepIds, 1, numExperts, shared);
}

/** Plan of a top-k gate: pass j holds every token's j-th choice; `choices` is (N·k), token-major. */
export function planFromChoices(choices: Int32Array, k: number, numExperts: number): SegmentPlan {
  return group(choices, k, numExperts, false);
}
