// `mote aligncot build`: self-generate AlignCoT chains from a prompt file with the own model or an
// OpenAI-compatible endpoint (resumable; progress bar and summary on stderr, the JSON report on stdout).
// `mote aligncot templates`: write the default prompt templates to a directory, to edit and pass back.
import { basename } from 'node:path';
import cliProgress from 'cli-progress';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import {
  type BuildEvent,
  type BuildReport,
  buildChains,
  createModelGenerator,
  createOpenAIGenerator,
  type Generator,
  HH_TURNS,
  loadPrompts,
  loadTemplates,
  ON_FAIL,
  OUTCOMES,
  PROMPT_FORMATS,
  writeDefaultTemplates,
} from '../../aligncot/build/index.js';
import { writeFileAtomic } from '../../io/atomic.js';
import { DEFAULT_MAX_SEQ_LEN, loadFiniteModel } from '../../run/base.js';
import { BUNDLED } from '../../run/bundled.js';
import type { Tokenizer } from '../../tokenizer/tokenizer.js';
import { ConfigError } from '../../util/errors.js';
import { checkWritableDir, checkWritableFile } from '../../util/writable.js';
import {
  allowNonFiniteOption,
  backendOption,
  clampedLimits,
  modelOptions,
  nonFiniteFlags,
  setUpBackend,
} from '../options.js';
import { exitCodeOf, StopSignal, stoppedExitCode } from '../run-stop.js';
import { terminalJson, terminalSafe } from '../terminal-text.js';

/** Replies the own model decodes together (continuous batching), and prompts in flight to fill them. */
const SELF_BATCH = 8;

const buildOptions = {
  prompts: { type: 'string', demandOption: true, describe: 'prompt file (.jsonl, .csv, optionally .gz)' },
  format: {
    choices: PROMPT_FORMATS,
    demandOption: true,
    describe: 'hh: HH-RLHF dialogues; csv: a column; jsonl: {id?, question}',
  },
  column: {
    type: 'string',
    describe: 'csv: the question column (e.g. goal); jsonl: the question field (default question)',
  },
  'id-column': {
    type: 'string',
    describe: 'csv/jsonl: the id column/field (jsonl default: id where present)',
  },
  'id-prefix': { type: 'string', describe: 'generated ids are PREFIX-<row> (default: the file name)' },
  turns: {
    choices: HH_TURNS,
    default: 'dialogue' as const,
    describe: 'hh: the whole dialogue, or its last/first Human turn',
  },
  out: { type: 'string', demandOption: true, describe: 'chains JSONL, appended to; a rerun resumes it' },
  rejected: { type: 'string', describe: 'where dropped chains go (default OUT.rejected.jsonl)' },
  generator: {
    choices: ['self', 'openai'] as const,
    demandOption: true,
    describe: 'the own model, or an OpenAI-compatible endpoint',
  },
  endpoint: { type: 'string', describe: 'openai: API base URL, e.g. http://127.0.0.1:8080/v1' },
  model: {
    type: 'string',
    describe: 'openai: the model name; self: the model (a llama2.c .bin or a HF directory, as --model-path)',
  },
  'api-key-env': {
    type: 'string',
    describe: 'openai: environment variable holding the API key (default OPENAI_API_KEY, optional)',
  },
  'model-path': {
    type: 'string',
    defaultDescription: '--model, else the bundled stories260K',
    describe: 'self: the model, a llama2.c .bin or a Hugging Face model directory',
  },
  tokenizer: { type: 'string', describe: `self: ${modelOptions.tokenizer.describe}` },
  ...backendOption,
  ...allowNonFiniteOption,
  'on-fail': {
    choices: ON_FAIL,
    default: 'drop' as const,
    describe: 'a chain whose final answer fails the check: keep, drop, or retry then drop',
  },
  retries: { type: 'number', default: 2, describe: 'on-fail retry: extra attempts of the whole procedure' },
  'unparsed-as': {
    choices: ['unsafe', 'safe'] as const,
    default: 'unsafe' as const,
    describe: 'how an unreadable check verdict counts',
  },
  concurrency: {
    type: 'number',
    describe:
      'prompts in flight at once (default 4 openai; self: 8, the replies decoded together in one batch)',
  },
  timeout: { type: 'number', default: 60_000, describe: 'openai: per-request timeout (ms)' },
  'request-retries': {
    type: 'number',
    default: 4,
    describe: 'openai: retries of a request on 429/5xx/timeouts/network errors',
  },
  limit: { type: 'number', describe: 'only the first n prompts' },
  templates: { type: 'string', describe: 'directory of template overrides (see mote aligncot templates)' },
  seed: { type: 'number', default: 0, describe: 'run seed (every request seed derives from it)' },
  temperature: { type: 'number', describe: 'sampling temperature (default 0.7 openai, 0.8 self)' },
  'top-p': { type: 'number', describe: 'nucleus sampling mass (default 0.95 openai, 0.9 self)' },
  'max-tokens': { type: 'number', describe: 'most tokens per reply (default 512 openai, 128 self)' },
  report: { type: 'string', describe: 'also write the JSON report to this file' },
  progress: { type: 'boolean', default: true, describe: 'draw a progress bar (on a terminal)' },
} as const;

type BuildArgs = ArgumentsCamelCase<{
  prompts: string;
  format: (typeof PROMPT_FORMATS)[number];
  column?: string;
  idColumn?: string;
  idPrefix?: string;
  turns: (typeof HH_TURNS)[number];
  out: string;
  rejected?: string;
  generator: 'self' | 'openai';
  endpoint?: string;
  model?: string;
  apiKeyEnv?: string;
  modelPath?: string;
  tokenizer?: string;
  allowNonFinite: boolean;
  backend: 'auto' | 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';
  onFail: (typeof ON_FAIL)[number];
  retries: number;
  unparsedAs: 'unsafe' | 'safe';
  concurrency?: number;
  timeout: number;
  requestRetries: number;
  limit?: number;
  templates?: string;
  seed: number;
  temperature?: number;
  topP?: number;
  maxTokens?: number;
  report?: string;
  progress: boolean;
}>;

const buildCommand: CommandModule<object, BuildArgs> = {
  command: 'build',
  describe:
    'build chains by the adaptive procedure (answer → check → analysis → answer → check → guidance → answer → check); exit code 2 when some prompts failed (rerun to retry them), 130 when interrupted',
  builder: (y) => y.options(buildOptions) as never,
  handler: async (a) => {
    // every output is checked before any work (a build can run for hours)
    await checkWritableFile(a.out);
    await checkWritableFile(a.rejected ?? `${a.out}.rejected.jsonl`, a.rejected ? '--rejected' : '--out');
    if (a.report) await checkWritableFile(a.report, '--report');
    const prompts = await loadPrompts(a.prompts, {
      format: a.format,
      column: a.column,
      idColumn: a.idColumn,
      idPrefix: a.idPrefix,
      turns: a.turns,
    });
    const templates = await loadTemplates(a.templates);
    const { generator, tokenizer, dispose } = await makeGenerator(a);
    const stop = new AbortController();
    // Ctrl-C or SIGTERM: finish the chains being written; a second one quits at once
    const on = (signal: NodeJS.Signals) => () => {
      if (stop.signal.aborted) process.exit(exitCodeOf(signal));
      const again = signal === 'SIGINT' ? 'Ctrl-C again' : 'send it again';
      process.stderr.write(`\n${signal}: finishing the chains being written (${again} to quit now)\n`);
      stop.abort(new StopSignal(signal));
    };
    const handlers = { SIGINT: on('SIGINT'), SIGTERM: on('SIGTERM') };
    for (const [s, h] of Object.entries(handlers)) process.on(s, h);
    const progress = progressBar(a.progress && process.stderr.isTTY === true);
    try {
      const report = await buildChains({
        prompts,
        out: a.out,
        rejectedOut: a.rejected,
        generator,
        templates,
        onFail: a.onFail,
        retries: a.retries,
        unparsedAs: a.unparsedAs,
        concurrency: a.concurrency ?? (a.generator === 'self' ? SELF_BATCH : 4),
        limit: a.limit,
        seed: a.seed,
        signal: stop.signal,
        onEvent: progress,
        stats: { tokenizer, seed: a.seed },
      });
      progress({ type: 'end', report });
      process.stderr.write(summary(report));
      process.stdout.write(`${terminalJson(report, 2)}\n`);
      if (a.report) await writeFileAtomic(a.report, `${JSON.stringify(report, null, 2)}\n`);
      if (report.interrupted) process.exitCode = stoppedExitCode(stop.signal);
      else if (report.outcomes.error > 0) process.exitCode = 2;
    } finally {
      for (const [s, h] of Object.entries(handlers)) process.off(s, h);
      dispose();
    }
  },
};

const templatesCommand: CommandModule<object, ArgumentsCamelCase<{ out: string }>> = {
  command: 'templates',
  describe:
    'write the default prompt templates (answer, check, analysis, guidance, answer-with-reasoning) to edit',
  builder: (y) =>
    y.options({
      out: { type: 'string', demandOption: true, describe: 'directory to write the .txt files to' },
    }) as never,
  handler: async (a) => {
    await checkWritableDir(a.out);
    for (const path of await writeDefaultTemplates(a.out)) process.stdout.write(`${path}\n`);
  },
};

/** `mote aligncot <build|templates>` */
export const aligncotCommand: CommandModule = {
  command: 'aligncot',
  describe: 'AlignCoT chains: self-generate them (build), or write the prompt templates (templates)',
  builder: (y: Argv) =>
    y
      .command(buildCommand)
      .command(templatesCommand)
      .demandCommand(1, 'name a subcommand: build or templates'),
  handler: () => {},
};

// ---------------------------------------------------------------------------------------------------
// helpers

async function makeGenerator(
  a: BuildArgs,
): Promise<{ generator: Generator; tokenizer?: Tokenizer; dispose: () => void }> {
  const sampling = { temperature: a.temperature, topP: a.topP, maxTokens: a.maxTokens };
  const defined = Object.fromEntries(Object.entries(sampling).filter(([, v]) => v !== undefined));
  if (a.generator === 'openai') {
    if (!a.endpoint)
      throw new ConfigError(
        'endpoint',
        a.endpoint,
        'a URL with --generator openai, e.g. http://127.0.0.1:8080/v1',
      );
    if (!a.model) throw new ConfigError('model', a.model, 'a model name with --generator openai');
    const keyEnv = a.apiKeyEnv ?? 'OPENAI_API_KEY';
    const apiKey = process.env[keyEnv];
    if (a.apiKeyEnv !== undefined && !apiKey)
      throw new ConfigError('api-key-env', a.apiKeyEnv, 'the name of a set, non-empty environment variable');
    const generator = createOpenAIGenerator({
      endpoint: a.endpoint,
      model: a.model,
      apiKey,
      timeoutMs: a.timeout,
      retry: { retries: a.requestRetries },
      ...defined,
    });
    return { generator, dispose: () => {} };
  }
  await setUpBackend(a.backend);
  const path = a.modelPath ?? a.model ?? BUNDLED.model;
  const { model, tokenizer } = await loadFiniteModel(
    path,
    { tokenizer: a.tokenizer, maxSeqLen: DEFAULT_MAX_SEQ_LEN },
    nonFiniteFlags(a),
  );
  const generator = createModelGenerator(model, tokenizer, {
    name: `self:${basename(path)}`,
    generate: clampedLimits(defined, model.config.maxSeqLen),
    batchSize: a.concurrency ?? SELF_BATCH,
  });
  return { generator, tokenizer, dispose: () => model.dispose() };
}

/** An event handler drawing a cli-progress bar on stderr (a no-op when not drawing). */
function progressBar(draw: boolean): (e: BuildEvent) => void {
  if (!draw) return () => {};
  const bar = new cliProgress.SingleBar(
    {
      format:
        'build |{bar}| {value}/{total} prompts | ok {ok} dropped {dropped} errors {errors} retries {retries} | {eta_formatted}',
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );
  const n = { ok: 0, dropped: 0, errors: 0, retries: 0 };
  return (e) => {
    if (e.type === 'start') bar.start(e.todo, 0, n);
    else if (e.type === 'retry') n.retries++;
    else if (e.type === 'chain') e.outcome === 'dropped' ? n.dropped++ : n.ok++;
    else if (e.type === 'error') n.errors++;
    if (e.type === 'chain' || e.type === 'error') bar.update(e.done, n);
    else if (e.type === 'retry') bar.update(n);
    else if (e.type === 'end') bar.stop();
  };
}

/** The human summary (counts only: never the text of a prompt). */
function summary(r: BuildReport): string {
  const built = OUTCOMES.reduce((s, k) => s + r.outcomes[k], 0);
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const lines = [
    `aligncot build: ${r.prompts} prompts, ${r.resumed} already done, ${built} processed in ${(r.durationMs / 1000).toFixed(1)} s${r.interrupted ? ' (interrupted)' : ''}`,
    `  outcomes: ${OUTCOMES.map((k) => `${k} ${r.outcomes[k]}`).join(', ')}`,
    `  chain steps (written this run): 1: ${r.byLength[1]}, 2: ${r.byLength[2]}, 3: ${r.byLength[3]}`,
    `  checks: safe ${r.checks.safe}, unsafe ${r.checks.unsafe}, unparsed ${r.checks.unparsed}; request retries ${r.requestRetries}; remaining ${r.remaining}`,
  ];
  if (r.truncatedBytes > 0)
    lines.push(`  resume: cut a torn last line of ${r.truncatedBytes} bytes from ${r.out}`);
  // ids come from the prompt file and messages from the endpoint: shown with control characters escaped
  for (const e of r.errors.slice(0, 5))
    lines.push(
      `  error ${terminalSafe(e.id, { oneLine: true })}: ${terminalSafe(e.message, { oneLine: true })}`,
    );
  if (r.errors.length > 5) lines.push(`  … ${r.errors.length - 5} more errors in the report`);
  const s = r.stats;
  if (s && s.chains > 0) {
    const bleu = s.selfBleu4
      ? `, Self-BLEU-4 ${s.selfBleu4.value.toFixed(3)} (sample ${s.selfBleu4.sample})`
      : '';
    lines.push(
      `  ${r.out}: ${s.chains} chains, with analysis ${pct(s.withStage.analysis / s.chains)}, with guidance ${pct(s.withStage.guidance / s.chains)}, answer-only ${pct(s.answerOnlyShare)}${bleu}`,
    );
  }
  return `${lines.join('\n')}\n`;
}
