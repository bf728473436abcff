// `mote experiment ablation`: the paper's Table 4 architectures (and plain SFT on answers) trained on the same chains
// with the same seed from the same base, evaluated on held-out chains and prompts; one table in <out>/ablation.md
// and .json, plus each variant's eval report. Progress on stderr; the table on stdout.
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { type AblationEvent, runAblation } from '../../experiment/ablation.js';
import { ablationCells, renderAblationMarkdown, writeAblation } from '../../experiment/ablation-report.js';
import { ABLATION_VARIANT_NAMES } from '../../experiment/variants.js';
import { bundledFile } from '../../run/bundled.js';
import { backendOption, modelOptions, setUpBackend } from '../options.js';
import { shouldDrawBar, type TrainProgress, trainProgress } from '../progress.js';

const ablationOptions = {
  ...backendOption,
  ...modelOptions,
  variants: {
    type: 'string',
    describe: `comma-separated variants, in table order (default all: ${ABLATION_VARIANT_NAMES.join(', ')})`,
  },
  epochs: { type: 'number', default: 1, describe: 'training epochs of every variant' },
  seed: { type: 'number', default: 0, describe: 'seed of every random choice' },
  'limit-chains': { type: 'number', describe: 'train on the first n training chains only (default all)' },
  'eval-prompts': {
    type: 'number',
    default: 12,
    describe: 'held-out eval prompts per class: n harmful + n benign',
  },
  'max-steps': { type: 'number', describe: 'stop each variant after n optimizer steps (smoke runs)' },
  'max-tokens-per-stage': { type: 'number', default: 64, describe: 'generated content tokens per stage' },
  chains: {
    type: 'string',
    default: bundledFile('examples/data/chains.jsonl'),
    defaultDescription: 'bundled examples/data/chains.jsonl',
    describe: 'AlignCoT chains (every 10th is held out)',
  },
  'prompts-file': {
    type: 'string',
    default: bundledFile('examples/data/eval-prompts.jsonl'),
    defaultDescription: 'bundled examples/data/eval-prompts.jsonl',
    describe: 'held-out eval prompts (JSONL or CSV with question and harmful)',
  },
  out: { type: 'string', default: 'runs/ablation', describe: 'where ablation.md/.json and the reports go' },
} as const;

type Args = ArgumentsCamelCase<{
  backend: (typeof backendOption)['backend']['default'];
  model: string;
  tokenizer: string;
  variants?: string;
  epochs: number;
  seed: number;
  limitChains?: number;
  evalPrompts: number;
  maxSteps?: number;
  maxTokensPerStage: number;
  chains: string;
  promptsFile: string;
  out: string;
}>;

const ablationCommand: CommandModule<object, Args> = {
  command: 'ablation',
  describe: "train and compare the paper's Table 4 architectures (and plain SFT) on the same chains and seed",
  builder: (y) => y.options(ablationOptions) as never,
  handler: async (a) => {
    const t0 = performance.now();
    const backend = await setUpBackend(a.backend);
    const controller = new AbortController();
    const onSignal = () => controller.abort(new Error('interrupted (SIGINT); no table was written'));
    process.once('SIGINT', onSignal);
    const run = await runAblation({
      model: a.model,
      tokenizer: a.tokenizer,
      chains: a.chains,
      evalPrompts: a.promptsFile,
      variants: a.variants?.split(',').map((s) => s.trim()),
      seed: a.seed,
      train: { epochs: a.epochs },
      limitChains: a.limitChains,
      maxSteps: a.maxSteps,
      promptsPerClass: a.evalPrompts,
      maxTokensPerStage: a.maxTokensPerStage,
      command: commandLine(),
      signal: controller.signal,
      onEvent: progress(a.maxSteps ?? null),
    }).finally(() => process.off('SIGINT', onSignal));
    const paths = await writeAblation(run, a.out);
    process.stdout.write(renderAblationMarkdown(run.result));
    const minutes = ((performance.now() - t0) / 60_000).toFixed(1);
    process.stderr.write(
      `\n${run.result.rows.length} variants in ${minutes} min on ${backend}; table: ${paths.markdown}, ${paths.json}; reports: ${paths.report} and ${a.out}/variants/\n`,
    );
  },
};

export const experimentCommand: CommandModule = {
  command: 'experiment',
  describe: 'experiments that compare methods (ablation: the paper Table 4 architectures)',
  builder: (y: Argv) => y.command(ablationCommand).demandCommand(1, 'name an experiment: ablation'),
  handler: () => {},
};

// ---------------------------------------------------------------------------------------------------
// helpers

/** Progress lines on stderr (and a bar per variant's training on a terminal). */
function progress(maxSteps: number | null): (e: AblationEvent) => void {
  const write = (line: string) => process.stderr.write(`${line}\n`);
  let bar: TrainProgress | null = null;
  return (e) => {
    if (e.type === 'data')
      write(
        `data: ${e.trainChains} training chains, ${e.heldOutChains} held-out chains (${e.dropped} too long, dropped), ${e.harmful} harmful + ${e.benign} benign eval prompts`,
      );
    else if (e.type === 'variant-start') {
      write(`\n[${e.index + 1}/${e.total}] ${e.variant.label} (${e.variant.name})`);
      bar = trainProgress(shouldDrawBar(), maxSteps);
    } else if (e.type === 'train') {
      bar?.onEvent(e.event);
      if (e.event.type === 'done') bar?.stop();
    } else if (e.type === 'evaluate' && e.done === e.total)
      write(`  evaluated: ${e.phase === 'held-out' ? 'held-out chains' : `${e.total} prompts generated`}`);
    else if (e.type === 'variant-done') {
      const cells = ablationCells(e.row);
      write(
        `  held-out loss ${cells[3]} (analysis ${cells[4]}, guidance ${cells[5]}, answer ${cells[6]}); refusal ${cells[8]}, compliance ${cells[9]}, well-formed ${cells[10]}, distinct answers ${cells[12]}; ${cells.at(-1)} s training`,
      );
    }
  };
}

/** The command line as typed, for the record (`mote …`), with arguments quoted where the shell needs it. */
function commandLine(): string {
  const quote = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`);
  return ['mote', ...process.argv.slice(2).map(quote)].join(' ');
}
