// `mote export`: a trained run (or one of its checkpoints) rebuilt from its base + checkpoint, written as PEFT
// adapters (--format peft), or with one step's experts merged into a plain model (--merged <step> --format hf|llama2c).
// Without --checkpoint it converts the base model itself (e.g. stories260K.bin → a HF Llama directory).
import { copyFile, readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { ArgumentsCamelCase, CommandModule, InferredOptionTypes } from 'yargs';
import { getExperts } from '../../experts/attach.js';
import type { ExpertConfig } from '../../experts/config.js';
import { adapterKind, mergeable, mergeChoices } from '../../experts/kinds.js';
import { mergeAll } from '../../experts/merge.js';
import { saveHfLlama } from '../../io/hf-llama-node.js';
import { canSaveTokenizerFiles } from '../../io/hf-tokenizer-files.js';
import { saveTokenizerFiles } from '../../io/hf-tokenizer-files-node.js';
import { saveLlama2c } from '../../io/llama2c-node.js';
import { exportPeftAdapters } from '../../io/peft-node.js';
import type { Transformer } from '../../model/transformer.js';
import { findTokenizer, loadFiniteModel } from '../../run/base.js';
import { BUNDLED } from '../../run/bundled.js';
import { loadRun, readRunCheckpoint } from '../../run/load.js';
import type { ExpertName } from '../../steps.js';
import type { Tokenizer } from '../../tokenizer/tokenizer.js';
import { withCleanup } from '../../util/cleanup.js';
import { checkWritableDir } from '../../util/writable.js';
import { allowNonFiniteOption, backendOption, nonFiniteFlags, setUpBackend } from '../options.js';
import { terminalJson, terminalSafe } from '../terminal-text.js';

const options = {
  checkpoint: {
    type: 'string',
    describe:
      'a `mote train` run directory (its latest checkpoint) or one checkpoint directory (…/checkpoints/step-N)',
  },
  format: { choices: ['peft', 'hf', 'llama2c'] as const, demandOption: true, describe: 'what to write' },
  merged: {
    type: 'string',
    describe:
      'with --format hf|llama2c: the step whose expert is merged in (analysis, guidance, answer, check, shared)',
  },
  out: { type: 'string', demandOption: true, describe: 'output directory (must be empty unless --force)' },
  base: {
    type: 'string',
    describe: "base model (.bin or HF directory; default: the run's base, else bundled stories260K)",
  },
  tokenizer: {
    type: 'string',
    describe:
      "its tokenizer (default: the run's; a HF directory's own files; tokenizer.bin or tokenizer.json beside a .bin; bundled tok512)",
  },
  dtype: {
    choices: ['F32', 'F16', 'BF16'] as const,
    default: 'F32' as const,
    describe: 'stored weight dtype',
  },
  'base-name': {
    type: 'string',
    describe:
      'base_model_name_or_path in adapter_config.json: a HF model id or directory (default: the base directory; a llama2.c base is written as HF into OUT/base)',
  },
  force: { type: 'boolean', default: false, describe: 'write into a non-empty --out' },
  ...backendOption,
  ...allowNonFiniteOption,
} as const;

type Args = ArgumentsCamelCase<InferredOptionTypes<typeof options>>;

export const exportCommand: CommandModule<object, Args> = {
  command: 'export',
  describe: 'export a trained run as PEFT adapters, or a merged step as a HF Llama / llama2.c model',
  builder: (y) => y.options(options) as never,
  handler: async (a) => {
    await checkWritableDir(a.out);
    await checkOut(resolve(a.out), a.force);
    if (a.format === 'peft' && !a.checkpoint)
      throw new Error('--format peft needs --checkpoint (a trained run)');
    if (a.format === 'peft' && a.merged !== undefined)
      throw new Error('--merged goes with --format hf or llama2c');
    if (a.format === 'llama2c' && a.dtype !== 'F32')
      throw new Error(`--format llama2c stores float32; --dtype ${a.dtype} is not possible`);
    await setUpBackend(a.backend);
    const source = a.checkpoint ? await fromCheckpoint(a) : await fromBase(a);
    const err = (line: string) => process.stderr.write(`${terminalSafe(line)}\n`);
    err(source.description);
    await withCleanup(
      async () => {
        const summary = a.format === 'peft' ? await writePeft(a, source) : await writeMerged(a, source, err);
        process.stdout.write(`${terminalJson(summary)}\n`);
      },
      () => source.model.dispose(),
    );
  },
};

/** The model to export, with where it came from. */
interface Source {
  model: Transformer;
  tokenizer: Tokenizer;
  base: string;
  tokenizerPath: string;
  /** The attached experts' config; null for a plain or fully fine-tuned model. */
  experts: Readonly<ExpertConfig> | null;
  description: string;
}

/** Refuses a non-empty output directory (exports are not merged with what is there) unless forced. */
async function checkOut(out: string, force: boolean): Promise<void> {
  const entries = await readdir(out).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return [];
    if (e.code === 'ENOTDIR') throw new Error(`--out ${out} is a file; expected a directory`);
    throw e;
  });
  if (entries.length && !force)
    throw new Error(`--out ${out} is not empty (${entries.length} entries); pass --force to write into it`);
}

/** Rebuilds the run's model as `mote train` built it (base, step tokens, experts) and restores the checkpoint. */
async function fromCheckpoint(a: Args): Promise<Source> {
  const overrides = { base: a.base, tokenizer: a.tokenizer };
  // refuse a wrong --merged before any loading
  if (a.format !== 'peft')
    mergedStep(a.merged, (await readRunCheckpoint(a.checkpoint!, overrides)).config.experts);
  const run = await loadRun(a.checkpoint!, overrides, nonFiniteFlags(a));
  const { config, state } = run;
  const what = config.experts ? `${config.experts.kind} experts` : 'full fine-tuning';
  return {
    model: run.model,
    tokenizer: run.tokenizer,
    base: config.model.base,
    tokenizerPath: config.model.tokenizer,
    experts: config.experts,
    description: `checkpoint: ${run.checkpoint} (step ${state.step}, ${what}; base ${config.model.base})`,
  };
}

async function fromBase(a: Args): Promise<Source> {
  if (a.merged !== undefined) throw new Error('--merged needs --checkpoint (a run with experts)');
  const base = resolve(a.base ?? BUNDLED.model);
  const tokenizerPath = await findTokenizer(base, a.tokenizer && resolve(a.tokenizer));
  const { model, tokenizer } = await loadFiniteModel(base, { tokenizer: tokenizerPath }, nonFiniteFlags(a));
  return {
    model,
    tokenizer,
    base,
    tokenizerPath: tokenizerPath ?? base,
    experts: null,
    description: `base: ${base} (no experts)`,
  };
}

async function writePeft(a: Args, s: Source): Promise<object> {
  if (!s.experts || !adapterKind(s.experts).peft)
    throw new Error(
      `--format peft: the checkpoint has ${s.experts ? `${s.experts.kind} experts, which have no PEFT form` : 'no experts (full fine-tuning: use --format hf)'}`,
    );
  const out = resolve(a.out);
  const llama2cTokenizer = s.tokenizerPath.endsWith('.bin') ? s.tokenizerPath : undefined;
  let baseName = a.baseName ?? s.base;
  if (!a.baseName && s.base.endsWith('.bin')) {
    // transformers cannot load a llama2.c file: the adapters name the base written as HF beside them
    baseName = join(out, 'base');
    const plain = await loadFiniteModel(s.base, { tokenizer: s.tokenizerPath }, nonFiniteFlags(a));
    try {
      await saveHfLlama(plain.model, baseName, {
        bosTokenId: plain.tokenizer.bosId,
        eosTokenId: plain.tokenizer.eosId,
      });
      if (canSaveTokenizerFiles(plain.tokenizer, { llama2cPath: llama2cTokenizer }))
        await saveTokenizerFiles(plain.tokenizer, baseName, { llama2cPath: llama2cTokenizer });
    } finally {
      plain.model.dispose();
    }
    process.stderr.write(
      `note: the base ${s.base} is a llama2.c file, which transformers cannot load; wrote it as a HF directory to ${baseName} (base_model_name_or_path; --base-name names another)\n`,
    );
  }
  const summary = await exportPeftAdapters(s.model, s.tokenizer, out, {
    baseModelNameOrPath: baseName,
    dtype: a.dtype,
    tokenizerPath: llama2cTokenizer,
  });
  const where = summary.adapters.map((x) => (x.dir === '.' ? out : join(out, x.dir)));
  process.stderr.write(
    `wrote ${summary.adapters.length} PEFT adapter(s) (${summary.adapters.map((x) => x.name).join(', ')}), ${summary.tokenRows} step-token rows, mote_config.json${summary.tokenizerJson ? ', tokenizer.json' : ''} to ${out}\n`,
  );
  return {
    format: 'peft',
    out,
    base: baseName,
    adapters: where,
    tokenRows: summary.tokenRows,
    tokenizerJson: summary.tokenizerJson,
  };
}

/** The step --merged names, checked against the run's experts: a step or 'shared', null for a single LoRA. */
function mergedStep(merged: string | undefined, experts: Readonly<ExpertConfig> | null): ExpertName | null {
  if (experts && !mergeable(experts))
    throw new Error(`--merged: ${experts.kind} experts are mixed per token and cannot be merged`);
  const steps = experts ? mergeChoices(experts) : [];
  if (steps.length > 0) {
    if (merged === undefined || !(steps as readonly string[]).includes(merged))
      throw new Error(
        `--merged ${merged ?? '(missing)'}: a MoTE checkpoint needs the step to merge, one of ${steps.join(', ')}`,
      );
    return merged as ExpertName;
  }
  if (merged !== undefined)
    throw new Error(
      `--merged ${merged}: this checkpoint has ${experts ? 'a single LoRA' : 'no experts'}, so there is no step to choose; omit --merged`,
    );
  return null;
}

/** Merges --merged's step into the base (if the model has experts) and writes a plain model. */
async function writeMerged(a: Args, s: Source, err: (line: string) => void): Promise<object> {
  const experts = getExperts(s.model)?.config;
  if (experts) mergeAll(s.model, mergedStep(a.merged, experts));
  const out = resolve(a.out);
  const added = s.model.addedEmbedding?.shape[0] ?? 0;
  if (a.format === 'hf') {
    await saveHfLlama(s.model, out, {
      dtype: a.dtype,
      bosTokenId: s.tokenizer.bosId,
      eosTokenId: s.tokenizer.eosId,
    });
    const tokenizerOptions = { llama2cPath: s.tokenizerPath.endsWith('.bin') ? s.tokenizerPath : undefined };
    const tokenizer = canSaveTokenizerFiles(s.tokenizer, tokenizerOptions);
    if (tokenizer) await saveTokenizerFiles(s.tokenizer, out, tokenizerOptions);
    else
      err('warning: this tokenizer cannot be written as tokenizer.json; copy it beside the model yourself');
    err(
      `wrote a HF Llama model${a.merged ? ` with the ${a.merged} expert merged` : ''} (vocab ${s.model.config.vocabSize}${added ? `, ${added} added token rows` : ''}) to ${out}`,
    );
    return {
      format: 'hf',
      out,
      merged: a.merged ?? null,
      vocabSize: s.model.config.vocabSize,
      tokenizerJson: tokenizer,
    };
  }
  const vocab = s.model.embedding.shape[0];
  if (added > 0)
    err(
      `warning: the llama2.c format cannot hold the ${added} added token rows (the step tokens); they are dropped: model.bin has the base vocabulary of ${vocab} tokens`,
    );
  await saveLlama2c(s.model, join(out, 'model.bin'));
  const files = ['model.bin'];
  if (s.tokenizerPath.endsWith('.bin')) {
    await copyFile(s.tokenizerPath, join(out, 'tokenizer.bin'));
    files.push('tokenizer.bin');
  }
  err(`wrote ${files.join(' and ')}${a.merged ? ` with the ${a.merged} expert merged` : ''} to ${out}`);
  return {
    format: 'llama2c',
    out,
    merged: a.merged ?? null,
    vocabSize: vocab,
    droppedTokenRows: added,
    files,
  };
}
