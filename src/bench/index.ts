// The benchmark suites by name, run in order; each returns JSON-able records and prints nothing (the CLI prints).
// `mote bench` (src/cli/commands/bench.ts) is the entry point; `selectBenchBackend` (backend.ts) picks the backend
// and says which device it really runs on.

export {
  BENCH_BACKENDS,
  type BenchBackend,
  type BenchBackendChoice,
  type BenchDevice,
  GpuFallbackError,
  selectBenchBackend,
} from './backend.js';

/** What every suite is told. */
export interface SuiteOptions {
  /** Small shapes and few repetitions: a smoke run for CI (seconds, not minutes). The figures mean little. */
  quick?: boolean;
  /** stories260K .bin (decode, efficiency). Default: models/stories260K/stories260K.bin from the working directory. */
  modelPath?: string;
  /** Its tokenizer (efficiency). */
  tokenizerPath?: string;
  /** AlignCoT chains .jsonl (efficiency). */
  chainsPath?: string;
  /** Held-out eval prompts .jsonl (prompt-throughput). */
  promptsPath?: string;
  /** llama2.c's `run` binary (decode: stories260K paired against it). */
  runC?: string;
}

/** A benchmark suite: returns its records. */
export type Suite = (opts: SuiteOptions) => Promise<object[]>;

const SMALL = [256, 256, 256] as const;

/** The decode-scale shape of a --quick run: the SmolLM2 layout, cut to 2 layers and a 4k vocabulary. */
const QUICK_SCALE = { dim: 576, hiddenDim: 1536, numLayers: 2, numHeads: 9, numKvHeads: 3, vocabSize: 4096 };

/** The suites in run order. Imported lazily so `--only matmul` does not load the rest. */
export const SUITES: Record<string, Suite> = {
  matmul: async (o) =>
    (await import('./matmul.js')).benchMatmul(
      o.quick ? { warmup: 1, repeats: 3, stepRows: 64, size: SMALL, weightSize: [64, 48, 96] } : {},
    ),
  decode: async (o) =>
    (await import('./decode.js')).benchDecode(o.modelPath, {
      runC: o.runC,
      tokenizerPath: o.tokenizerPath,
      ...(o.quick ? { tokens: 12, rounds: 1 } : {}),
    }),
  'decode-scale': async (o) =>
    (await import('./decode-scale.js')).benchDecodeScale(
      o.quick ? { tokens: 4, tensorTokens: 2, rounds: 1, shape: { ...QUICK_SCALE } } : {},
    ),
  experts: async (o) =>
    (await import('./experts.js')).benchExperts(
      o.quick ? { tokens: 128, dim: 64, rank: 4, warmup: 1, repeats: 2 } : {},
    ),
  'mix-impls': async (o) =>
    (await import('./mix-impls.js')).benchMixImpls(
      o.quick ? { tokens: 128, dim: 64, rank: 4, repeats: 2 } : {},
    ),
  fused: async (o) =>
    (await import('./fused.js')).benchFused(o.quick ? { reps: 1, batch: 1, seqLen: 16 } : {}),
  train: async (o) =>
    (await import('./train.js')).benchTrain(
      o.quick ? { warmup: 1, steps: 1, batch: 2, seqLen: 32, matmulSize: SMALL } : {},
    ),
  efficiency: async (o) =>
    (await import('./efficiency.js')).benchEfficiency({
      modelPath: o.modelPath,
      tokenizerPath: o.tokenizerPath,
      chainsPath: o.chainsPath,
      ...(o.quick ? { chains: 2, batchSize: 2 } : {}),
    }),
  'staged-batch': async (o) =>
    (await import('./staged-batch.js')).benchStagedBatch({
      modelPath: o.modelPath,
      tokenizerPath: o.tokenizerPath,
      ...(o.quick ? { maxTokensPerStage: 3, bench256: false } : {}),
    }),
  'prompt-throughput': async (o) =>
    (await import('./prompt-throughput.js')).benchPromptThroughput({
      modelPath: o.modelPath,
      tokenizerPath: o.tokenizerPath,
      promptsPath: o.promptsPath,
      ...(o.quick ? { prompts: 4, maxTokensPerStage: 3, rounds: 1, smol: false } : {}),
    }),
  parallel: async (o) =>
    (await import('./parallel.js')).benchParallel(
      o.quick ? { warmup: 1, rounds: 1, batch: 2, seqLen: 32, threadProbe: false } : {},
    ),
  // real model sizes, minutes per case: only when named (--only scale); --quick runs one short SmolLM2 case
  scale: async (o) =>
    (await import('./scale.js')).benchScale(
      o.quick ? { cases: [{ shape: 'smollm2-135m', seq: 16 }], experts: ['lora'], warmup: 0, steps: 1 } : {},
    ),
};

/** Suites that run only when named in `only` (they take minutes and gigabytes). */
export const OPT_IN_SUITES: ReadonlySet<string> = new Set(['scale']);

/** Throws when `only` names a suite that does not exist, listing the known ones. */
export function checkSuiteNames(only: readonly string[] = [], suites: Record<string, Suite> = SUITES): void {
  const unknown = only.filter((name) => !(name in suites));
  if (unknown.length) {
    throw new Error(
      `unknown benchmark suite ${unknown.join(', ')} (known: ${Object.keys(suites).join(', ')})`,
    );
  }
}

/** Options of runSuites. */
export interface RunSuitesOptions extends SuiteOptions {
  /** Suite names to run, in SUITES order; all when empty or absent. Unknown names throw before anything runs. */
  only?: readonly string[];
  /** Replaces SUITES (tests). */
  suites?: Record<string, Suite>;
  /** Put on the error record of a suite that throws. */
  backend?: string;
}

/**
 * Runs the named suites and hands each record to `emit` as it comes; a suite that throws yields one
 * {bench, backend, error} record and the run goes on.
 */
export async function runSuites(emit: (record: object) => void, opts: RunSuitesOptions = {}): Promise<void> {
  const { only, suites = SUITES, backend, ...suiteOptions } = opts;
  checkSuiteNames(only, suites);
  for (const [name, run] of Object.entries(suites)) {
    if (only?.length ? !only.includes(name) : OPT_IN_SUITES.has(name)) continue;
    try {
      for (const r of await run(suiteOptions)) emit(r);
    } catch (e) {
      emit({ bench: name, backend, error: (e as Error).message });
    }
  }
}
