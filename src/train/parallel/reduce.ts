// Reducing a step's gradients on the host, in the main thread while the workers wait: the shards' weighting
// (shard.ts), the mean over micro-batches and the squares of the global norm in one pass over the workers' arrays,
// written straight into the gradient tensors (replica.ts `gradsFromHost`), with the in-process trainer's values.

/** A micro-batch's gradient as a weighted sum of host arrays: its shards' (weights N_s / N), or one of weight 1. */
export interface WeightedGradient {
  parts: readonly Float32Array[];
  weights: readonly number[];
}

/**
 * Elements [start, end) of a step's mean gradient, written to out[0, end − start), and `ss` plus the squares of
 * their values, added one by one in float64 (so ranges reduced in order sum the global norm's squares in the order
 * `hostGlobalNorm` does). Each micro-batch's value is Σ_s w_s·part_s in float64, rounded once to float32
 * (a part of weight 0 adds nothing, whatever it holds); the micro-batches' values are summed in order with float32
 * adds, then divided by their number: the in-process trainer's tensor adds and division, bit for bit. `out` may be
 * a view of a tensor's memory or one of the parts (element i is read before it is written).
 */
export function reduceGradient(
  micro: readonly WeightedGradient[],
  start: number,
  end: number,
  out: Float32Array,
  ss = 0,
): number {
  if (micro.length === 0) throw new Error('reduceGradient: no micro-batch gradients');
  const live = micro.map(({ parts, weights }) => {
    const keep = weights.flatMap((w, s) => (w > 0 ? [s] : []));
    return { parts: keep.map((s) => parts[s]), weights: keep.map((s) => weights[s]) };
  });
  const only = live[0];
  if (live.length === 1 && only.parts.length === 2)
    // the usual split: one micro-batch, two workers
    return weightedPair(only.parts[0], only.weights[0], only.parts[1], only.weights[1], start, end, out, ss);
  if (live.length === 1 && only.parts.length === 1 && only.weights[0] === 1)
    return copySquares(only.parts[0], start, end, out, ss);
  const n = live.length;
  for (let i = start; i < end; i++) {
    let g = 0;
    for (let m = 0; m < n; m++) {
      const { parts, weights } = live[m];
      let v = parts.length > 0 ? weights[0] * parts[0][i] : 0;
      for (let s = 1; s < parts.length; s++) v += weights[s] * parts[s][i];
      g = m === 0 ? Math.fround(v) : Math.fround(g + Math.fround(v));
    }
    if (n > 1) g = Math.fround(g / n);
    out[i - start] = g;
    ss += g * g;
  }
  return ss;
}

// reduceGradient's two common cases, as loops of their own (monomorphic and free of inner loops)
function weightedPair(
  a: Float32Array,
  wa: number,
  b: Float32Array,
  wb: number,
  start: number,
  end: number,
  out: Float32Array,
  ss: number,
): number {
  for (let i = start; i < end; i++) {
    const g = Math.fround(wa * a[i] + wb * b[i]);
    out[i - start] = g;
    ss += g * g;
  }
  return ss;
}

function copySquares(a: Float32Array, start: number, end: number, out: Float32Array, ss: number): number {
  for (let i = start; i < end; i++) {
    const g = a[i];
    out[i - start] = g;
    ss += g * g;
  }
  return ss;
}
