// The one seeded shuffle of the library: Fisher–Yates (Durstenfeld's in-place form) over a random source in
// [0, 1), such as `seedrandom(seed)`. Every data order, held-out split and sample goes through it, so the same
// seed gives the same order everywhere.

/** Shuffles `xs` in place (i from the end, j uniform in [0, i]) and returns it. */
export function shuffleInPlace<T>(xs: T[], rng: () => number): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
  return xs;
}

/** A seeded permutation of 0..n−1. */
export function shuffledIndices(n: number, rng: () => number): number[] {
  return shuffleInPlace(
    Array.from({ length: n }, (_, i) => i),
    rng,
  );
}
