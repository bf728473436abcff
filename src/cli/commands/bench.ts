// `mote bench`: the benchmark suites of src/bench/, one JSON line per record on stdout, each with its backend and
// the device it ran on; backend choice and warnings on stderr.
import * as tf from '@tensorflow/tfjs';
import type { ArgumentsCamelCase, CommandModule } from 'yargs';
import {
  BENCH_BACKENDS,
  type BenchBackend,
  type BenchBackendChoice,
  checkSuiteNames,
  runSuites,
  SUITES,
  selectBenchBackend,
} from '../../bench/index.js';
import { BUNDLED, bundledFile } from '../../run/bundled.js';

type Args = ArgumentsCamelCase<{
  backend: BenchBackend;
  only?: string;
  quick: boolean;
  allowCpuFallback: boolean;
  runC?: string;
}>;

/** Options of runBench. */
export interface BenchRunOptions {
  backend: BenchBackend;
  /** Suite names; all when absent. */
  only?: string[];
  quick?: boolean;
  allowCpuFallback?: boolean;
  /** llama2.c's `run` binary: the decode suite pairs stories260K against it. */
  runC?: string;
  /** Where records go (default: stdout, one JSON line each). */
  emit?: (record: object) => void;
  /** Where backend notes go (default: stderr). */
  log?: (line: string) => void;
}

/** Selects the backend (checking the GPU for tensorflow-gpu), runs the suites, and emits records with `device`. */
export async function runBench(o: BenchRunOptions): Promise<BenchBackendChoice> {
  const emit = o.emit ?? ((r) => process.stdout.write(`${JSON.stringify(r)}\n`));
  const log = o.log ?? ((line) => process.stderr.write(`${line}\n`));
  checkSuiteNames(o.only);
  const selected = await selectBenchBackend(o.backend, {
    allowCpuFallback: o.allowCpuFallback,
    onEvent: (e) => e.type === 'warning' && log(`warning: ${e.message}`),
  });
  const { choice, device } = selected;
  log(`backend: ${choice.name} on the ${device.toUpperCase()} (${choice.reason})`);
  if (selected.fallback)
    log(`warning: tensorflow-gpu fell back to the CPU (--allow-cpu-fallback): ${selected.fallback}`);
  await runSuites(
    (r) => {
      // a suite that switched backends would mislabel its records: say so instead
      const active = tf.getBackend();
      emit(active === choice.name ? { ...r, device } : { ...r, device, backendChanged: active });
    },
    {
      only: o.only,
      quick: o.quick,
      backend: choice.name,
      modelPath: BUNDLED.model,
      tokenizerPath: BUNDLED.tokenizer,
      chainsPath: bundledFile('examples/data/chains.jsonl'),
      promptsPath: BUNDLED.evalPrompts,
      runC: o.runC,
    },
  );
  return selected;
}

export const benchCommand: CommandModule<object, Args> = {
  command: 'bench',
  describe: 'run the benchmarks (JSON lines on stdout: backend, device, figures)',
  builder: (y) =>
    y.options({
      backend: {
        choices: BENCH_BACKENDS,
        default: 'wasm' as BenchBackend,
        describe: 'tfjs backend; tensorflow-gpu = tensorflow that must run on a GPU (checked)',
      },
      only: { type: 'string', describe: `comma list of suites (${Object.keys(SUITES).join(', ')})` },
      quick: { type: 'boolean', default: false, describe: 'small shapes, few repeats: a smoke run for CI' },
      'run-c': {
        type: 'string',
        describe: "llama2.c's run binary (gcc -O3 -o run run.c -lm): decode pairs stories260K against it",
      },
      'allow-cpu-fallback': {
        type: 'boolean',
        default: false,
        describe: 'with tensorflow-gpu: run on the CPU when no GPU is usable instead of failing',
      },
    }) as never,
  handler: async (a) => {
    const only = a.only
      ?.split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    await runBench({
      backend: a.backend,
      only,
      quick: a.quick,
      allowCpuFallback: a.allowCpuFallback,
      runC: a.runC,
    });
  },
};
