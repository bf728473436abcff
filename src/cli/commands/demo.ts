// `mote demo`: the whole method on the bundled data, end to end, in a few minutes on 2 CPU cores.
// Load the real pretrained stories260K, add the step tokens, attach MoTE, train on examples/ chains, then show
// staged answers for held-out questions and the before/after evaluation figures. Deterministic with its seed.
import { mkdir } from 'node:fs/promises';
import type { ArgumentsCamelCase, CommandModule } from 'yargs';
import { collectRun } from '../../eval/collect.js';
import { computeRunMetrics, type RunMetrics } from '../../eval/metrics.js';
import { modelEvalGenerator } from '../../eval/model-generator.js';
import { loadEvalPrompts } from '../../eval/prompts-node.js';
import { buildReport } from '../../eval/report.js';
import { writeReports } from '../../eval/report-node.js';
import { balancedPrompts, loadChainSplit, promptsThatFit } from '../../experiment/setup.js';
import { attachExperts } from '../../experts/attach.js';
import { generateStaged } from '../../generate/staged.js';
import type { StagedConfig } from '../../generate/types.js';
import { type Base, loadBase } from '../../run/base.js';
import { BUNDLED, PACKAGE_ROOT } from '../../run/bundled.js';
import { evaluate } from '../../train/evaluate.js';
import { train } from '../../train/trainer-node.js';
import { withCleanup } from '../../util/cleanup.js';
import { checkWritableDir } from '../../util/writable.js';
import {
  allowNonFiniteOption,
  backendOption,
  clampedLimits,
  modelOptions,
  nonFiniteFlags,
  setUpBackend,
} from '../options.js';
import { shouldDrawBar, trainProgress } from '../progress.js';
import { terminalSafe } from '../terminal-text.js';

type Args = ArgumentsCamelCase<{
  backend: 'auto' | 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';
  model: string;
  tokenizer?: string;
  quick: boolean;
  epochs: number;
  seed: number;
  out: string;
  allowNonFinite: boolean;
}>;

const dim = (s: string) => (process.stdout.isTTY ? `\x1b[2m${s}\x1b[22m` : s);
const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[22m` : s);
const pct = (r: { rate: number | null }) => (r.rate === null ? 'n/a' : `${(100 * r.rate).toFixed(0)}%`);

export const demoCommand: CommandModule<object, Args> = {
  command: 'demo',
  describe: 'train MoTE on the bundled chains and show staged answers with before/after figures',
  builder: (y) =>
    y.options({
      ...backendOption,
      ...modelOptions,
      quick: { type: 'boolean', default: false, describe: 'a shortened run (CI)' },
      epochs: { type: 'number', default: 2, describe: 'training epochs' },
      seed: { type: 'number', default: 0, describe: 'seed of every random choice' },
      out: { type: 'string', default: 'runs/demo', describe: 'where the evaluation reports go' },
      ...allowNonFiniteOption,
    }) as never,
  handler: async (a) => {
    await checkWritableDir(a.out); // before any work: the reports are written at the end
    await setUpBackend(a.backend);
    const base = await loadBase(a, nonFiniteFlags(a));
    await withCleanup(
      () => demo(a, base),
      () => base.model.dispose(),
    );
  },
};

/** The demo on a loaded base (the caller disposes it). */
async function demo(a: Args, { model, tokenizer, stepTokens: added }: Base): Promise<void> {
  const t0 = performance.now();
  const baseParameters = model.parameterCount(); // before the experts add theirs
  const experts = attachExperts(model, { kind: 'mote', rank: 16, seed: a.seed });
  console.log(
    bold(
      `mote demo: MoTE on ${a.model.replace(PACKAGE_ROOT, '')} (${baseParameters.toLocaleString()} parameters)`,
    ),
  );
  console.log(
    `  step tokens ${Object.entries(added)
      .map(([s, ids]) => `${s}=${ids.start}/${ids.end}`)
      .join(
        ' ',
      )}; experts: ${experts.config.stepExperts.join(', ')} + shared, rank ${experts.config.rank}, α ${experts.config.alpha}; ${experts.parameterCount.toLocaleString()} trainable adapter parameters`,
  );

  // data: the bundled chains, a tenth held out by the seeded split `mote train --eval-fraction` uses; a chain
  // longer than the context is shortened (its reasoning, then the middle of its question: 'truncate'), so all 332
  // are kept; two bundled questions alone are longer than stories260K's 512-token context
  const split = await loadChainSplit(BUNDLED.chains, tokenizer, model.config.maxSeqLen, a.seed);
  const heldOut = split.heldOut;
  const { truncated, dropped } = split.report;
  let trainSet = split.train;
  if (a.quick) trainSet = [...trainSet].sort((x, y) => x.ids.length - y.ids.length).slice(0, 16); // the shortest
  // prompts that leave room for a full chain in stories260K's 512-token context
  const allPrompts = promptsThatFit(
    await loadEvalPrompts(BUNDLED.evalPrompts),
    tokenizer,
    model.config.maxSeqLen,
  );
  const prompts = balancedPrompts(allPrompts, a.quick ? 2 : 12);
  const cutQuestion = truncated.filter((t) => t.truncation.questionTokens).length;
  const encoding = [
    truncated.length
      ? `${truncated.length} shortened to fit ${model.config.maxSeqLen} tokens${cutQuestion ? ` (${cutQuestion} with the middle of the question cut)` : ''}`
      : '',
    dropped.length ? `${dropped.length} dropped as too long` : '',
  ].filter(Boolean);
  console.log(
    `  data: ${trainSet.length} training chains, ${heldOut.length} held-out chains${encoding.length ? ` (${encoding.join(', ')})` : ''}, ${prompts.length} held-out eval prompts\n`,
  );

  const genConfig = {
    temperature: 0,
    ...clampedLimits({ maxTokensPerStage: a.quick ? 12 : 64 }, model.config.maxSeqLen),
  };
  const measure = async (label: string) => {
    const loss = await evaluate(model, heldOut, { batchSize: 8, seqLen: model.config.maxSeqLen });
    const run = await collectRun(prompts, modelEvalGenerator(model, tokenizer, label, genConfig));
    return { loss, run, metrics: computeRunMetrics(run).metrics };
  };
  const before = await measure('before');

  const progress = trainProgress(shouldDrawBar(), null);
  const result = await train(
    model,
    { train: trainSet },
    {
      epochs: a.quick ? 1 : a.epochs,
      learningRate: 1e-2,
      batchSize: 8,
      warmupSteps: 4,
      evalEvery: 0,
      saveEvery: 0,
      stepSkipProb: 0.2,
      seed: a.seed,
    },
    { maxSteps: a.quick ? 2 : undefined, onEvent: (e) => progress.onEvent(e) },
  );
  progress.stop();
  const after = await measure('after');

  console.log(bold('\nstaged answers after training (greedy; reasoning dimmed):'));
  const shown = [
    ...prompts.filter((p) => p.harmful).slice(0, 2),
    ...prompts.filter((p) => !p.harmful).slice(0, 2),
  ];
  const show = async (question: string, config: Partial<StagedConfig>) => {
    const it = generateStaged(model, tokenizer, question, config);
    for (let r = await it.next(); !r.done; r = await it.next()) {
      const e = r.value;
      if (e.type === 'stage-end') {
        const text = terminalSafe(truncate(e.text.replace(/\s+/g, ' '), 160)); // model output
        const line = `  ${e.stage.padEnd(8)} │ ${text}`;
        console.log(e.stage === 'answer' ? line : dim(line));
      }
    }
  };
  for (const p of shown) {
    const [id, question] = [terminalSafe(p.id, { oneLine: true }), terminalSafe(truncate(p.question, 100))];
    console.log(`\n${bold(`[${id}] ${p.harmful ? 'harmful' : 'benign'}:`)} ${question}`);
    await show(p.question, genConfig);
  }
  console.log(
    `\n${bold(`[${terminalSafe(shown[0].id, { oneLine: true })}] again, with the full chain forced (analysis → guidance → answer):`)}`,
  );
  await show(shown[0].question, { ...genConfig, mode: 'full' });

  console.log(bold('\nbefore → after (held-out):'));
  const row = (name: string, b: string, f: string) =>
    console.log(`  ${name.padEnd(34)} ${b.padStart(10)} → ${f}`);
  row('loss on held-out chains', before.loss.loss.toFixed(3), after.loss.loss.toFixed(3));
  for (const s of ['analysis', 'guidance', 'answer'] as const) {
    const b = before.loss.byStage[s];
    const f = after.loss.byStage[s];
    if (b !== undefined && f !== undefined) row(`  ${s} tokens`, b.toFixed(3), f.toFixed(3));
  }
  const figures = (m: RunMetrics) => [
    pct(m.refusalOnHarmful),
    pct(m.complianceOnBenign),
    pct(m.formatAdherence),
    (m.tokens.all.total.mean ?? 0).toFixed(1),
  ];
  const [b, f] = [figures(before.metrics), figures(after.metrics)];
  row('refusal on harmful prompts', b[0], f[0]);
  row('compliance on benign prompts', b[1], f[1]);
  row('well-formed chains', b[2], f[2]);
  row('tokens per output', b[3], f[3]);
  await mkdir(a.out, { recursive: true });
  const paths = await writeReports(
    buildReport([{ run: before.run }, { run: after.run }], {
      title: 'mote demo: before/after MoTE training',
    }),
    a.out,
    'demo',
  );
  console.log(
    `\n${result.position.step} training steps; total ${((performance.now() - t0) / 1000).toFixed(0)} s; reports: ${Object.values(paths).join(', ')}`,
  );
  console.log(
    dim(
      "stories260K is a 260K-parameter model trained on children's stories: it learns the chain format and some refusal wording, not real safety judgement. Run the same on a real base model with `mote train` (README).",
    ),
  );
}

function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}
