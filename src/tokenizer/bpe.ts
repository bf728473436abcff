// Score-ordered BPE merging, the SentencePiece-BPE rule used by llama2.c run.c `encode()`:
// repeatedly merge the adjacent pair whose concatenation has the highest vocabulary score.
// run.c rescans the whole sequence per merge (O(n²)); this does the same merges with a heap and a linked list.

/** The id two adjacent ids merge into, or -1 when they do not merge. */
export type MergeLookup = (left: number, right: number) => number;

/**
 * Merges `ids` until no adjacent pair merges, always taking the pair whose merged id has the highest
 * `scores[id]` and, among equal scores, the leftmost pair. This equals run.c's rescan loop exactly: the
 * surviving nodes keep the order of their original positions, so "leftmost now" is "smallest position".
 */
export function mergeByScore(
  ids: readonly number[],
  lookup: MergeLookup,
  scores: ArrayLike<number>,
): number[] {
  const n = ids.length;
  if (n < 2) return [...ids];
  const list = new LinkedIds(ids);
  const heap = new CandidateHeap(3 * n, scores);
  const consider = (left: number): void => {
    const right = left < 0 ? -1 : list.next[left];
    if (right < 0) return;
    const id = lookup(list.tok[left], list.tok[right]);
    if (id >= 0) heap.push(id, left, right, list.version[left], list.version[right]);
  };
  for (let i = 0; i + 1 < n; i++) consider(i);

  while (heap.size > 0) {
    const c = heap.pop();
    const left = heap.left[c];
    const right = heap.right[c];
    // stale: one of the two nodes was merged (or removed) since this pair was pushed
    if (list.version[left] !== heap.leftVersion[c] || list.version[right] !== heap.rightVersion[c]) continue;
    list.merge(left, right, heap.id[c]);
    consider(list.prev[left]);
    consider(left);
  }
  return list.toArray();
}

/** A doubly linked list over positions 0..n-1; a node's version changes whenever its id does or it is removed. */
class LinkedIds {
  readonly tok: Int32Array;
  readonly next: Int32Array;
  readonly prev: Int32Array;
  readonly version: Uint32Array;

  constructor(ids: readonly number[]) {
    const n = ids.length;
    this.tok = Int32Array.from(ids);
    this.next = new Int32Array(n);
    this.prev = new Int32Array(n);
    this.version = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      this.next[i] = i + 1 < n ? i + 1 : -1;
      this.prev[i] = i - 1;
    }
  }

  /** `left` becomes `id`; `right` leaves the list. */
  merge(left: number, right: number, id: number): void {
    this.tok[left] = id;
    this.version[left]++;
    this.version[right]++;
    const after = this.next[right];
    this.next[left] = after;
    if (after >= 0) this.prev[after] = left;
  }

  /** The ids in list order; node 0 is never the right half of a merge, so the list starts there. */
  toArray(): number[] {
    const out: number[] = [];
    for (let i = 0; i >= 0; i = this.next[i]) out.push(this.tok[i]);
    return out;
  }
}

/**
 * A binary max-heap of merge candidates, stored column-wise in typed arrays (no object per candidate).
 * Order: higher score first, then smaller left position (run.c keeps the first best pair on ties).
 */
class CandidateHeap {
  readonly id: Int32Array;
  readonly left: Int32Array;
  readonly right: Int32Array;
  readonly leftVersion: Uint32Array;
  readonly rightVersion: Uint32Array;
  private readonly score: Float64Array;
  /** Heap of candidate indices. */
  private readonly heap: Int32Array;
  private count = 0;
  size = 0;

  constructor(
    capacity: number,
    private readonly scores: ArrayLike<number>,
  ) {
    this.id = new Int32Array(capacity);
    this.left = new Int32Array(capacity);
    this.right = new Int32Array(capacity);
    this.leftVersion = new Uint32Array(capacity);
    this.rightVersion = new Uint32Array(capacity);
    this.score = new Float64Array(capacity);
    this.heap = new Int32Array(capacity);
  }

  push(id: number, left: number, right: number, leftVersion: number, rightVersion: number): void {
    const c = this.count++;
    this.id[c] = id;
    this.left[c] = left;
    this.right[c] = right;
    this.leftVersion[c] = leftVersion;
    this.rightVersion[c] = rightVersion;
    this.score[c] = this.scores[id];
    const h = this.heap;
    let i = this.size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(c, h[parent])) break;
      h[i] = h[parent];
      i = parent;
    }
    h[i] = c;
  }

  /** Removes and returns the best candidate's index (its fields stay readable until the heap is dropped). */
  pop(): number {
    const h = this.heap;
    const top = h[0];
    const last = h[--this.size];
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= this.size) break;
      const child = l + 1 < this.size && this.before(h[l + 1], h[l]) ? l + 1 : l;
      if (!this.before(h[child], last)) break;
      h[i] = h[child];
      i = child;
    }
    h[i] = last;
    return top;
  }

  private before(a: number, b: number): boolean {
    const sa = this.score[a];
    const sb = this.score[b];
    return sa > sb || (sa === sb && this.left[a] < this.left[b]);
  }
}
