// The benchmark suites by name, run in order; each returns JSON-able records and prints nothing (the CLI prints).
// `mote bench` (src/cli/commands/bench.ts) is the entry point.

/** A benchmark suite: returns its records. */
export type Suite = () => Promise<object[]>;

/** The suites in run order. Imported lazily so `--only matmul` does not load the rest. */
export const SUITES: Record<string, Suite> = {
  matmul: async () => (await import('./matmul.js')).benchMatmul(),
  decode: async () => (await import('./decode.js')).benchDecode(),
  experts: async () => (await import('./experts.js')).benchExperts(),
  train: async () => (await import('./train.js')).benchTrain(),
  efficiency: async () => (await import('./efficiency.js')).benchEfficiency(),
  parallel: async () => (await import('./parallel.js')).benchParallel(),
};

/**
 * Runs the named suites (all when `only` is empty) and hands each record to `emit` as it comes; a suite that
 * throws yields one {bench, error} record and the run goes on.
 */
export async function runSuites(
  emit: (record: object) => void,
  opts: { only?: string[]; suites?: Record<string, Suite>; backend?: string } = {},
): Promise<void> {
  const suites = opts.suites ?? SUITES;
  for (const name of opts.only ?? []) {
    if (!(name in suites))
      throw new Error(`unknown suite '${name}' (known: ${Object.keys(suites).join(', ')})`);
  }
  for (const [name, run] of Object.entries(suites)) {
    if (opts.only?.length && !opts.only.includes(name)) continue;
    try {
      for (const r of await run()) emit(r);
    } catch (e) {
      emit({ bench: name, backend: opts.backend, error: (e as Error).message });
    }
  }
}
