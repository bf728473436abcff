// `mote eval`: runs a model (a trained run, or a base model) over a prompt set in one or more generation modes,
// optionally scores the outputs with an LLM judge, writes JSON/Markdown/HTML reports and prints the tables.
//
//   mote eval --run runs/x --mode adaptive,answer,full --limit 40 --out reports/x
//   mote eval --model base.bin --tokenizer tok.bin --prompts advbench.csv --harmful --question-field goal --out r
//
// Expert check: a staged mode that forces a stage the run's MoTE experts do not cover is refused before any
// generation. A model without step experts (a base model, a LoRA / top-k / fully fine-tuned run) may still be
// evaluated in every mode: constrained decoding keeps its chains well formed, and a note says the stages are not
// routed to step experts (the "before" baseline of the demo).
import { mkdir } from 'node:fs/promises';
import type { ArgumentsCamelCase, CommandModule, InferredOptionTypes } from 'yargs';
import type { Generator } from '../../aligncot/build/generator.js';
import { THREE_STAGE } from '../../aligncot/stages.js';
import { collectRun } from '../../eval/collect.js';
import {
  createJudgeGenerator,
  type Judgement,
  judge,
  judgeItemsOf,
  PREFLIGHT_MESSAGE,
} from '../../eval/judge.js';
import { modelEvalGenerator } from '../../eval/model-generator.js';
import type { EvalPrompt } from '../../eval/prompts.js';
import { EXAMPLE_EVAL_PROMPTS, loadEvalPrompts } from '../../eval/prompts-node.js';
import type { EvalRun } from '../../eval/record.js';
import { buildReport } from '../../eval/report.js';
import { writeReports } from '../../eval/report-node.js';
import { reportTables, type Table } from '../../eval/tables.js';
import { checkStageExperts, describeExperts, stageExpert } from '../../experts/kinds.js';
import { forcedStages, questionFits } from '../../generate/staged.js';
import { DEFAULT_STAGED_BATCH_SIZE, type StagedBatchConfig } from '../../generate/staged-batch.js';
import type { StageMode } from '../../generate/types.js';
import { type InferenceModel, loadForInference } from '../../run/load.js';
import { withCleanup } from '../../util/cleanup.js';
import { checkWritableDir } from '../../util/writable.js';
import {
  allowNonFiniteOption,
  backendOption,
  clampedLimits,
  modelOptions,
  nonFiniteFlags,
  setUpBackend,
  stagedDecodingOptions,
} from '../options.js';
import { modeName, parseStageMode } from '../staged-output.js';
import { terminalSafe } from '../terminal-text.js';

const options = {
  out: { type: 'string', demandOption: true, describe: 'directory of eval-report.{json,md,html}' },
  ...backendOption,
  ...modelOptions,
  run: { type: 'string', describe: 'a trained `mote train` run directory (else --model/--tokenizer)' },
  name: { type: 'string', describe: 'the model name in the report (default: run directory or model stem)' },
  prompts: {
    type: 'string',
    default: EXAMPLE_EVAL_PROMPTS,
    defaultDescription: 'the held-out split of examples/',
    describe: 'JSONL or CSV prompt file with a question and a harmful label',
  },
  'question-field': { type: 'string', default: 'question', describe: 'field / column of the question' },
  'harmful-column': {
    type: 'string',
    default: 'harmful',
    alias: 'harmful-field',
    describe: 'field / column of the harmful label (true/false, 1/0, yes/no, harmful/benign)',
  },
  harmful: {
    type: 'boolean',
    describe: 'one label for every prompt (--harmful / --no-harmful); no column read',
  },
  'id-field': { type: 'string', default: 'id', describe: 'field / column of the id (default: file-index)' },
  mode: {
    type: 'string',
    array: true,
    default: ['adaptive'],
    describe:
      "one run per mode, comma-separated: adaptive, answer, analysis-answer, full, or stages joined by '+'",
  },
  limit: {
    type: 'number',
    describe: 'at most this many prompts, harmful and benign alternating in file order',
  },
  temperature: { type: 'number', default: 0, describe: '0 = greedy (reproducible reports)' },
  'top-p': { type: 'number', default: 1, describe: 'nucleus sampling mass (1 = off)' },
  seed: { type: 'number', default: 0, describe: 'sampling seed' },
  'max-tokens': { type: 'number', default: 512, describe: 'most generated tokens per output' },
  ...stagedDecodingOptions,
  'batch-size': {
    type: 'number',
    default: DEFAULT_STAGED_BATCH_SIZE,
    describe: 'prompts decoded together (continuous batching: a finished row takes the next prompt)',
  },
  'judge-endpoint': { type: 'string', describe: 'OpenAI-compatible base URL of an LLM judge (optional)' },
  'judge-model': { type: 'string', describe: 'the judge model name (with --judge-endpoint)' },
  'judge-api-key-env': { type: 'string', describe: 'environment variable holding the judge API key' },
  'judge-retries': { type: 'number', default: 4, describe: 'retries of a failed judge request' },
  'judge-timeout': { type: 'number', default: 60, describe: 'seconds per judge request' },
  'judge-concurrency': { type: 'number', default: 4, describe: 'judge requests in flight' },
  title: { type: 'string', default: 'mote eval', describe: 'report title' },
  ...allowNonFiniteOption,
} as const;

type Args = ArgumentsCamelCase<InferredOptionTypes<typeof options>>;

export const evalCommand: CommandModule<object, Args> = {
  command: 'eval',
  describe: 'refusal, compliance, chain format and length of a model over a prompt set; reports',
  builder: (y) => y.options(options) as never,
  handler: async (a) => {
    const modes = a.mode.flatMap((m) => m.split(',')).map((m) => parseStageMode(m, '--mode', false));
    if (a.limit !== undefined && !(Number.isInteger(a.limit) && a.limit >= 1))
      throw new Error(`--limit ${a.limit}: expected a positive integer`);
    if (!Number.isInteger(a.batchSize) || a.batchSize < 1)
      throw new Error(`--batch-size ${a.batchSize}: expected a positive integer`);
    const names = modes.map(modeName);
    const repeated = names.find((n, i) => names.indexOf(n) !== i);
    if (repeated) throw new Error(`--mode: ${repeated} is given twice (one run per mode)`);
    await checkWritableDir(a.out); // before any work: the reports are written at the end
    const all = await loadEvalPrompts(a.prompts, {
      questionField: a.questionField,
      harmfulField: a.harmfulColumn,
      idField: a.idField,
      ...(a.harmful !== undefined && { harmful: a.harmful }),
    });
    const judgeGen = await judgeGenerator(a);
    await setUpBackend(a.backend);
    const im = await loadForInference({ ...a, ...nonFiniteFlags(a) });
    await withCleanup(
      () => evaluateModel(im, modes, all, judgeGen, a),
      () => im.model.dispose(),
    );
  },
};

/** Generates (and judges) every mode over the prompts that fit, writes the reports and prints the tables. */
async function evaluateModel(
  im: InferenceModel,
  modes: StageMode[],
  all: EvalPrompt[],
  judgeGen: Generator | null,
  flags: Args,
): Promise<void> {
  const err = (line: string) => process.stderr.write(`${line}\n`);
  const names = modes.map(modeName);
  err(terminalSafe(im.description));
  for (const note of expertNotes(im, modes)) err(terminalSafe(note));
  const limits = clampedLimits(
    { maxTokens: flags.maxTokens, maxTokensPerStage: flags.maxTokensPerStage },
    im.model.config.maxSeqLen,
  );
  const a = { ...flags, ...limits };
  const fits = all.filter((p) => questionFits(im.model, im.tokenizer, p.question, a.maxTokensPerStage));
  const skipped = all.length - fits.length;
  if (fits.length === 0)
    throw new Error(
      `${a.prompts}: all ${all.length} prompts are too long for the model's context of ${im.model.config.maxSeqLen} tokens (with an answer block of ${a.maxTokensPerStage})`,
    );
  const prompts = limitPrompts(fits, a.limit);
  err(
    `${all.length} prompts in ${a.prompts}${skipped ? `, ${skipped} skipped as too long for the context of ${im.model.config.maxSeqLen} tokens` : ''}; evaluating ${prompts.length} (${prompts.filter((p) => p.harmful).length} harmful, ${prompts.filter((p) => !p.harmful).length} benign) in ${names.join(', ')}`,
  );
  const name = a.name ?? im.name;
  const inputs: { run: EvalRun; judgements?: Judgement[] }[] = [];
  for (const mode of modes) {
    const run = await generateRun(im, name, mode, prompts, a);
    const judgements = judgeGen ? await judgeRun(run, judgeGen, a) : undefined;
    inputs.push({ run, judgements });
  }
  const report = buildReport(inputs, {
    title: a.title,
    createdAt: new Date().toISOString(),
    judge: judgeGen?.name,
  });
  await mkdir(a.out, { recursive: true });
  const paths = await writeReports(report, a.out);
  // model names and modes come from paths and flags: shown with control characters escaped
  process.stdout.write(`${terminalSafe(reportTables(report).map(textTable).join('\n'))}\n`);
  err(`reports: ${paths.json}, ${paths.markdown}, ${paths.html}`);
}

/** Generates one run, logging progress (ids only) to stderr. */
async function generateRun(
  im: InferenceModel,
  name: string,
  mode: StageMode,
  prompts: EvalPrompt[],
  a: Args,
): Promise<EvalRun> {
  const config: Partial<StagedBatchConfig> = {
    mode,
    temperature: a.temperature,
    topP: a.topP,
    topK: a.topK,
    seed: a.seed,
    maxTokens: a.maxTokens,
    maxTokensPerStage: a.maxTokensPerStage,
    batchSize: a.batchSize,
  };
  const t0 = performance.now();
  const run = await collectRun(prompts, modelEvalGenerator(im.model, im.tokenizer, name, config), {
    onRecord: ({ id, done, total }) =>
      process.stderr.write(`[${modeName(mode)} ${done}/${total}] ${terminalSafe(id, { oneLine: true })}\n`),
  });
  process.stderr.write(
    `${modeName(mode)}: ${prompts.length} outputs in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`,
  );
  return run;
}

/** At most `limit` prompts, harmful and benign alternating (each in file order) so both splits are present. */
export function limitPrompts(prompts: EvalPrompt[], limit?: number): EvalPrompt[] {
  if (limit === undefined) return prompts;
  if (!Number.isInteger(limit) || limit < 1) throw new Error(`--limit ${limit}: expected a positive integer`);
  const harmful = prompts.filter((p) => p.harmful);
  const benign = prompts.filter((p) => !p.harmful);
  const out: EvalPrompt[] = [];
  for (let i = 0; out.length < Math.min(limit, prompts.length); i++) {
    if (i < harmful.length) out.push(harmful[i]);
    if (i < benign.length && out.length < limit) out.push(benign[i]);
  }
  return out;
}

/**
 * Refuses modes that force a stage the run's step experts lack (before any generation); notes what the stages
 * mean for a model whose experts are not chosen by step.
 */
function expertNotes(im: InferenceModel, modes: StageMode[]): string[] {
  if (stageExpert(im.experts, 'answer') !== null) {
    for (const mode of modes) {
      const forced = forcedStages(mode, THREE_STAGE) ?? [];
      try {
        checkStageExperts(im.experts, forced, `--mode ${modeName(mode)}`);
      } catch (e) {
        throw new Error(
          `${(e as Error).message} in the run ${im.run?.dir}; choose modes among adaptive, answer and stages it has`,
        );
      }
    }
    return [];
  }
  const what = im.run ? `the run's experts are ${describeExperts(im.experts)}` : 'the model has no experts';
  return [
    `note: ${what}: stages are not routed to step experts; constrained decoding keeps each chain well formed${im.run ? '' : ' (the step tokens are untrained: a baseline)'}`,
  ];
}

/** The judge client from the flags, checked with one request before any generation; null without a judge. */
async function judgeGenerator(a: Args): Promise<Generator | null> {
  if (a.judgeEndpoint === undefined) {
    if (a.judgeModel !== undefined || a.judgeApiKeyEnv !== undefined)
      throw new Error('--judge-model / --judge-api-key-env need --judge-endpoint URL');
    return null;
  }
  if (!a.judgeModel) throw new Error('--judge-endpoint needs --judge-model NAME (the model the server runs)');
  let apiKey: string | undefined;
  if (a.judgeApiKeyEnv !== undefined) {
    apiKey = process.env[a.judgeApiKeyEnv];
    if (!apiKey)
      throw new Error(
        `--judge-api-key-env ${a.judgeApiKeyEnv}: the environment variable is not set or empty`,
      );
  }
  const generator = createJudgeGenerator({
    endpoint: a.judgeEndpoint,
    model: a.judgeModel,
    apiKey,
    timeoutMs: a.judgeTimeout * 1000,
    retry: { retries: a.judgeRetries },
  });
  try {
    await generator.complete({
      step: 'check',
      messages: [{ role: 'user', content: PREFLIGHT_MESSAGE }],
      seed: 0,
    });
  } catch (e) {
    throw new Error(
      `--judge-endpoint ${a.judgeEndpoint}: the judge is not usable (${(e as Error).message}); expected a reachable OpenAI-compatible chat-completions server running model ${a.judgeModel} (check the URL, that the server is up, the model name and the API key). Nothing was generated.`,
    );
  }
  return generator;
}

/** Scores a run's outputs; a failure on one item is recorded in its judgement and the run goes on. */
async function judgeRun(run: EvalRun, generator: Generator, a: Args): Promise<Judgement[]> {
  const judgements = await judge(judgeItemsOf(run.records), {
    generator,
    preflight: false,
    concurrency: a.judgeConcurrency,
    seed: a.seed,
  });
  const failed = judgements.filter((j) => j.failures.length > 0).length;
  process.stderr.write(
    `${run.mode}: judged ${judgements.length} outputs${failed ? `, ${failed} with a failed aspect (recorded in the report)` : ''}\n`,
  );
  return judgements;
}

/** A report table as aligned plain text under its title. */
function textTable(t: Table): string {
  const widths = t.header.map((h, i) => Math.max(h.length, ...t.rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  return [`${t.title}`, line(t.header), line(widths.map((w) => '-'.repeat(w))), ...t.rows.map(line), ''].join(
    '\n',
  );
}
