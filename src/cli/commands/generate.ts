// `mote generate`: sample text from a model, streaming it to stdout. Three forms:
//   plain    mote generate --prompt "Once upon"                       the base model continues the text
//   staged   mote generate --run runs/x --prompt "How do I…?"          stages stream as `[analysis] …`, `[answer] …`
//            (--staged or --mode on a base model: step tokens added, untrained, decoding keeps the chain well formed)
//   file     mote generate --run runs/x --prompts q.jsonl --out r.jsonl
//            one JSON line per prompt {id, question, mode, stages, tokensPerStage, totalTokens, ms}, appended as it
//            goes, in file order; a rerun skips the ids already in --out (resume). --batch-size N (default 8) decodes
//            N prompts together, one batched forward per token, a finished row taking the next prompt at once.
import { appendFile } from 'node:fs/promises';
import type { ArgumentsCamelCase, CommandModule, InferredOptionTypes } from 'yargs';
import { loadEvalPrompts } from '../../eval/prompts-node.js';
import { generateStream } from '../../generate/generate.js';
import { generateStaged, questionFits } from '../../generate/staged.js';
import { DEFAULT_STAGED_BATCH_SIZE, StagedBatcher } from '../../generate/staged-batch.js';
import type { StagedConfig, StagedResult, StageMode } from '../../generate/types.js';
import { DEFAULT_MAX_SEQ_LEN, loadFiniteModel } from '../../run/base.js';
import { type InferenceModel, loadForInference } from '../../run/load.js';
import { withCleanup } from '../../util/cleanup.js';
import { FormatError } from '../../util/errors.js';
import { parseJsonl } from '../../util/jsonl.js';
import { repairJsonlLog } from '../../util/jsonl-log.js';
import { checkWritableFile } from '../../util/writable.js';
import {
  allowNonFiniteOption,
  backendOption,
  clampedLimits,
  decoderOption,
  modelOptions,
  nonFiniteFlags,
  reasoningOptions,
  setUpBackend,
  stagedDecodingOptions,
} from '../options.js';
import { MODE_HELP, modeName, parseStageMode, resultLine, stageView, useColor } from '../staged-output.js';
import { terminalSafe } from '../terminal-text.js';

const options = {
  ...backendOption,
  ...modelOptions,
  run: {
    type: 'string',
    describe:
      'a trained `mote train` run directory: its base, tokenizer and experts (implies staged generation)',
  },
  prompt: { type: 'string', default: '', describe: 'text to continue (plain) or the question (staged)' },
  staged: { type: 'boolean', default: false, describe: 'staged generation (step blocks) in --mode' },
  mode: { type: 'string', describe: `stages to write (implies --staged; default adaptive): ${MODE_HELP}` },
  prompts: { type: 'string', describe: 'a JSONL or CSV file of prompts ({id?, question}); needs --out' },
  out: { type: 'string', describe: 'JSONL results of --prompts (appended; ids already there are skipped)' },
  'batch-size': {
    type: 'number',
    default: DEFAULT_STAGED_BATCH_SIZE,
    describe:
      'with --prompts: prompts decoded together, one batched forward per token (a finished row takes the next prompt)',
  },
  'question-field': { type: 'string', default: 'question', describe: 'field / column of the question' },
  'id-field': { type: 'string', default: 'id', describe: 'field / column of the id (default: file-index)' },
  ...reasoningOptions,
  temperature: { type: 'number', default: 1, describe: '0 = greedy' },
  'top-p': { type: 'number', default: 0.9, describe: 'nucleus sampling mass (1 = off)' },
  'max-tokens': { type: 'number', describe: 'most new tokens (default 256 plain, 512 staged)' },
  ...stagedDecodingOptions,
  seed: { type: 'number', default: 42, describe: 'sampling seed' },
  stop: { type: 'string', array: true, default: [] as string[], describe: 'stop strings (plain)' },
  ...decoderOption,
  ...allowNonFiniteOption,
} as const;

type Args = ArgumentsCamelCase<InferredOptionTypes<typeof options>>;

export const generateCommand: CommandModule<object, Args> = {
  command: 'generate',
  describe: 'generate text, or staged answers of a trained MoTE run (one prompt or a file)',
  builder: (y) => y.options(options) as never,
  handler: async (a) => {
    const staged = a.staged || a.mode !== undefined || a.run !== undefined || a.prompts !== undefined;
    if (!staged) return plain(a);
    const mode: StageMode = a.mode === undefined ? 'adaptive' : parseStageMode(a.mode);
    if (a.prompts !== undefined && a.out === undefined)
      throw new Error('--prompts needs --out results.jsonl (one JSON line per prompt)');
    if (!Number.isInteger(a.batchSize) || a.batchSize < 1)
      throw new Error(`--batch-size must be a positive integer, got ${a.batchSize}`);
    if (a.prompts === undefined && a.prompt.trim() === '')
      throw new Error('staged generation needs a question: --prompt "…" (or --prompts file.jsonl --out …)');
    if (a.out !== undefined) await checkWritableFile(a.out);
    await setUpBackend(a.backend);
    const im: InferenceModel = await loadForInference({ ...a, ...nonFiniteFlags(a) });
    process.stderr.write(`${terminalSafe(im.description)}\n`);
    const limits = clampedLimits(
      { maxTokens: a.maxTokens ?? 512, maxTokensPerStage: a.maxTokensPerStage },
      im.model.config.maxSeqLen,
    );
    const config: Partial<StagedConfig> = {
      mode,
      temperature: a.temperature,
      topP: a.topP,
      topK: a.topK,
      seed: a.seed,
      ...limits,
      decoder: a.decoder,
    };
    await withCleanup(
      () =>
        a.prompts !== undefined
          ? generateFile(im, config, a.prompts, a.out!, {
              questionField: a.questionField,
              idField: a.idField,
              batchSize: a.batchSize,
            })
          : generateOne(im, a.prompt, config, {
              color: useColor(),
              showReasoning: a.showReasoning && !a.hideReasoning,
            }),
      () => im.model.dispose(),
    );
  },
};

/** Plain text continuation of --prompt by the base model. */
async function plain(a: Args): Promise<void> {
  await setUpBackend(a.backend);
  const { model, tokenizer } = await loadFiniteModel(
    a.model,
    { tokenizer: a.tokenizer, maxSeqLen: DEFAULT_MAX_SEQ_LEN },
    nonFiniteFlags(a),
  );
  await withCleanup(
    async () => {
      const { maxTokens } = clampedLimits({ maxTokens: a.maxTokens ?? 256 }, model.config.maxSeqLen);
      const t0 = performance.now();
      process.stdout.write(terminalSafe(a.prompt));
      const it = generateStream(model, tokenizer, a.prompt, {
        temperature: a.temperature,
        topP: a.topP,
        topK: a.topK,
        maxTokens,
        seed: a.seed,
        stop: a.stop,
        decoder: a.decoder,
      });
      let r = await it.next();
      while (!r.done) {
        process.stdout.write(terminalSafe(r.value.text));
        r = await it.next();
      }
      const s = (performance.now() - t0) / 1000;
      process.stdout.write('\n');
      process.stderr.write(
        `${r.value.ids.length} tokens in ${s.toFixed(2)} s (${(r.value.ids.length / s).toFixed(0)} tokens/s), stop: ${r.value.stopReason}\n`,
      );
    },
    () => model.dispose(),
  );
}

/** One staged answer to `question`, stage by stage on stdout; the token summary on stderr. */
async function generateOne(
  im: InferenceModel,
  question: string,
  config: Partial<StagedConfig>,
  show: { color: boolean; showReasoning: boolean },
): Promise<void> {
  const view = stageView({ write: (t) => process.stdout.write(t), ...show });
  const it = generateStaged(im.model, im.tokenizer, question, config);
  for (let r = await it.next(); ; r = await it.next()) {
    if (r.done) {
      process.stderr.write(`${resultLine(r.value)}\n`);
      return;
    }
    view.onEvent(r.value);
  }
}

/** One line of the --out JSONL. */
interface ResultLine {
  id: string;
  question: string;
  mode: string;
  stages: Record<string, string>;
  tokensPerStage: Record<string, number>;
  totalTokens: number;
  ms: number;
}

/**
 * Staged answers to every prompt of `file` not yet in `out`, appended to `out` one JSON line at a time in file order
 * (so an interrupted run keeps what it wrote and a rerun resumes). Prompts too long for the model's context are
 * skipped and counted. `batchSize` prompts are decoded together (StagedBatcher: a finished row takes the next prompt
 * at once); a line is written as soon as it and every line before it are done. Progress on stderr.
 */
async function generateFile(
  im: InferenceModel,
  config: Partial<StagedConfig>,
  file: string,
  out: string,
  fields: { questionField: string; idField: string; batchSize: number },
): Promise<void> {
  const { batchSize, ...names } = fields;
  const prompts = await loadEvalPrompts(file, { ...names, harmful: false });
  const done = await doneIds(out);
  const budget = config.maxTokensPerStage as number;
  const todo = prompts.filter((p) => !done.has(p.id));
  const fits = todo.filter((p) => questionFits(im.model, im.tokenizer, p.question, budget));
  const err = (line: string) => process.stderr.write(`${line}\n`);
  err(
    `${prompts.length} prompts in ${terminalSafe(file)}: ${prompts.length - todo.length} already in ${terminalSafe(out)} (skipped), ${todo.length - fits.length} too long for the context of ${im.model.config.maxSeqLen} tokens (skipped), ${fits.length} to generate`,
  );
  if (fits.length === 0) return;
  const mode = modeName(config.mode ?? 'adaptive');
  const batcher = await StagedBatcher.create(im.model, im.tokenizer, { ...config, batchSize });
  const results: (StagedResult | undefined)[] = new Array(fits.length);
  let written = 0;
  // lines go out in file order: each finished result writes every finished one after the last line written
  let writing = Promise.resolve();
  const flush = async () => {
    while (written < fits.length && results[written]) {
      const p = fits[written];
      const result = results[written]!;
      written++;
      const line: ResultLine = {
        id: p.id,
        question: p.question,
        mode,
        stages: result.stages as Record<string, string>,
        tokensPerStage: result.tokensPerStage as Record<string, number>,
        totalTokens: result.totalTokens,
        ms: Math.round(result.ms),
      };
      await appendFile(out, `${JSON.stringify(line)}\n`);
      err(`[${written}/${fits.length}] ${terminalSafe(p.id, { oneLine: true })}: ${resultLine(result)}`);
    }
  };
  const settled = await Promise.allSettled(
    fits.map(async (p, i) => {
      results[i] = await batcher.generate(p.question, undefined, 'mote generate');
      writing = writing.then(flush);
      await writing;
    }),
  );
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
}

/**
 * The ids already in a results file (none when it does not exist). A last line cut short by an interrupted write
 * is removed from the file (util/jsonl-log.ts); any other unreadable line is an error naming the file and line.
 */
async function doneIds(out: string): Promise<Set<string>> {
  const log = await repairJsonlLog(out);
  const { records } = parseJsonl(log.text, out, {
    invalidJsonHint: () => ' (--out must be a results file of mote generate)',
  });
  const ids = new Set<string>();
  for (const { line, value } of records) {
    if (typeof value.id !== 'string')
      throw new FormatError(
        out,
        String(line),
        'expected a string "id" (--out must be a results file of mote generate)',
      );
    ids.add(value.id);
  }
  if (log.truncatedBytes > 0)
    process.stderr.write(`--out ${out}: removed an incomplete last line (an interrupted write)\n`);
  return ids;
}
