// Paired measurement on a shared machine: every variant once per round, the order reversed every other round, so
// that load from other processes hits the variants alike within a round; figures are compared round by round (a
// ratio per round), then summarised over the rounds as a range, a median, and the quietest round (the one whose
// variants took the least wall time in all: the least disturbed).

/** One variant: a run returning its rate (e.g. tokens/s). */
export interface Variant {
  name: string;
  run: () => Promise<number>;
}

/** Rates per variant, one per round, and each round's total wall time. */
export interface PairedRounds {
  rates: Record<string, number[]>;
  roundMs: number[];
}

/** Runs `rounds` interleaved rounds after `warmup` untimed ones. */
export async function pairedRounds(
  variants: readonly Variant[],
  rounds: number,
  warmup = 1,
): Promise<PairedRounds> {
  const rates: Record<string, number[]> = Object.fromEntries(variants.map((v) => [v.name, []]));
  const roundMs: number[] = [];
  for (let r = 0; r < warmup + rounds; r++) {
    const t0 = performance.now();
    for (const v of r % 2 ? [...variants].reverse() : variants) {
      const rate = await v.run();
      if (r >= warmup) rates[v.name].push(rate);
    }
    if (r >= warmup) roundMs.push(performance.now() - t0);
  }
  return { rates, roundMs };
}

/** Index of the quietest round. */
export const quietest = (p: PairedRounds): number => p.roundMs.indexOf(Math.min(...p.roundMs));

/** A figure over the rounds: its range, median and value in the quietest round. */
export interface Spread {
  min: number;
  median: number;
  max: number;
  quietest: number;
}

/** Summarises per-round values (`digits` after the point). */
export function spread(values: readonly number[], quiet: number, digits = 0): Spread {
  const s = [...values].sort((a, b) => a - b);
  const round = (x: number) => +x.toFixed(digits);
  return {
    min: round(s[0]),
    median: round(s[Math.floor(s.length / 2)]),
    max: round(s[s.length - 1]),
    quietest: round(values[quiet]),
  };
}

/** The spread of a variant's rate. */
export const rateSpread = (p: PairedRounds, name: string, digits = 0): Spread =>
  spread(p.rates[name], quietest(p), digits);

/** The spread of the per-round ratio of two variants' rates. */
export function ratioSpread(p: PairedRounds, num: string, den: string, digits = 3): Spread {
  const ratios = p.rates[num].map((x, i) => x / p.rates[den][i]);
  return spread(ratios, quietest(p), digits);
}
