// Paired timing: candidates measured in interleaved rounds (every candidate once per round, the order reversed every
// other round) so that drift and other processes' load hit them alike, and compared by their medians. What the
// kernel choices ('auto' mixing kernel, 'auto' decoder) and the benchmarks measure with.

/** The median of a non-empty list. */
export const median = (a: readonly number[]): number =>
  [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)];

/**
 * Times of each candidate over `repeats` interleaved rounds after `warmup` untimed ones. Each run measures itself
 * (returns its ms), so that a run can leave out what it must not count (reading back, disposing).
 */
export async function timeRounds(
  runs: readonly (readonly [string, () => Promise<number> | number])[],
  warmup: number,
  repeats: number,
): Promise<Record<string, number[]>> {
  const times: Record<string, number[]> = Object.fromEntries(runs.map(([name]) => [name, []]));
  for (let round = 0; round < warmup + repeats; round++) {
    const order = round % 2 ? [...runs].reverse() : runs;
    for (const [name, run] of order) {
      const ms = await run();
      if (round >= warmup) times[name].push(ms);
    }
  }
  return times;
}

/** Wall ms of one call of `fn` (awaited). */
export async function wallMs(fn: () => unknown): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}
