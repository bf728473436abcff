// The ablation's files: `ablation.json` (the AblationResult), `ablation.md` (one Markdown table with the paper's
// Table 4 Harm % beside ours, and what every column means), the eval report of each variant
// (`variants/<name>.{json,md,html}`), its outputs (`variants/<name>.records.jsonl`, EvalRecords that `mote eval`
// can score again) and one report with every variant's run (`eval-report.*`, with the plots).
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeReports } from '../eval/report-node.js';
import type { Rate } from '../eval/stats.js';
import type { EvalReport } from '../eval/types.js';
import { writeFileAtomic } from '../io/atomic.js';
import type { AblationRun } from './ablation.js';
import type { AblationResult, AblationRow } from './ablation-result.js';

/** The header of the Markdown table; the last column is the only one that varies between identical runs. */
export const ABLATION_COLUMNS = [
  'variant',
  'paper Harm % (Table 4)',
  'trainable params',
  'held-out loss',
  'analysis',
  'guidance',
  'answer',
  'answer w/o chain',
  'refusal (harmful)',
  'compliance (benign)',
  'well-formed',
  'reasoning (harmful, benign)',
  'distinct answers',
  'tokens / answer',
  'tokens / output',
  'train s (wall-clock)',
] as const;

/** The table's rows as cell text, in ABLATION_COLUMNS order. */
export function ablationCells(row: AblationRow): string[] {
  const h = row.heldOut;
  const e = row.eval;
  return [
    row.label,
    row.paperHarm === null ? '—' : row.paperHarm.toFixed(2),
    row.trainableParameters.toLocaleString('en-US'),
    h.loss.toFixed(3),
    loss(h.analysis),
    loss(h.guidance),
    loss(h.answer),
    h.answerWithoutChain.toFixed(3),
    share(e.refusalOnHarmful),
    share(e.complianceOnBenign),
    share(e.formatAdherence),
    `${count(e.reasoningOnHarmful)}, ${count(e.reasoningOnBenign)}`,
    `${e.distinctAnswers}/${e.formatAdherence.n}`,
    e.tokensPerAnswer === null ? '—' : e.tokensPerAnswer.toFixed(1),
    e.tokensPerOutput === null ? '—' : e.tokensPerOutput.toFixed(1),
    row.timing.trainSeconds.toFixed(0),
  ];
}

/** ablation.md: settings, the table, and what each column means. */
export function renderAblationMarkdown(result: AblationResult): string {
  const s = result.settings;
  const t = s.train;
  const line = (cells: readonly string[]) => `| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
  return [
    '# MoTE architecture ablation (paper Table 4, at small scale)',
    '',
    ...(s.command ? ['```sh', s.command, '```', ''] : []),
    `Base ${s.model} with the step tokens added, reloaded for every variant; backend ${s.backend}; seed ${s.seed}. ` +
      `Training: ${t.epochs} epoch(s)${t.maxSteps === null ? '' : `, at most ${t.maxSteps} steps`} on ${s.data.trainChains} chains of ${s.data.chains}, ` +
      `batch ${t.batchSize} (micro-batches of ${t.microBatchSize}), peak lr ${t.learningRate}, ${t.warmupSteps} warm-up steps, ${t.schedule} decay; ` +
      `step skipping p = ${s.moteStepSkipProb} for MoTE and MoTE w/o shared expert, 0 otherwise. ` +
      `Held out: ${s.data.heldOutChains} chains (every 10th), and ${s.data.harmfulPrompts} harmful + ${s.data.benignPrompts} benign prompts of ${s.data.evalPrompts} ` +
      `answered in adaptive mode (greedy, at most ${s.generation.maxTokensPerStage} tokens per stage).`,
    '',
    line(ABLATION_COLUMNS),
    `|${ABLATION_COLUMNS.map(() => '---').join('|')}|`,
    ...result.rows.map((r) => line(ablationCells(r))),
    '',
    'Variants (experts on every linear layer: q, k, v, o, gate, up, down):',
    '',
    '- **single LoRA / LoRA rank×2**: one LoRA of rank 16 / 32 on every token; **token-routed MoE**: 3 LoRA experts of rank 16 mixed per token by a learned top-2 gate per layer (Switch load-balance loss 0.01), no shared expert; **MoTE**: analysis, guidance and answer experts routed by step plus a shared expert (α = 0.5), step skipping; **w/o shared expert**: the step experts alone; **w/o step skipping**: p = 0. The baselines train without step skipping.',
    '- **plain SFT on answers**: a single LoRA (rank 16) trained on the answer-only version of each training chain, `User: {question}\\n<|response|> {answer}<|/response|>`, loss on the answer block; no analysis, no guidance, no step skipping. Evaluated like the others (the held-out chains, and adaptive generation, where it may still choose to open a reasoning block).',
    '',
    'Columns:',
    '',
    '- **paper Harm %**: harmless rate judged by GPT-4 on HH-RLHF for Wizard-Vicuna-7B (Table 4; MixLoRA, 92.89, is not run here). Plain SFT is not a Table 4 row.',
    '- **trainable params**: adapters (and the MoE gate) plus the 6 added step-token rows.',
    '- **held-out loss**: mean next-token loss (nats) on the trained tokens of the held-out chains; **analysis / guidance / answer**: the same per step type (each block with its step tokens); no step skipping at evaluation.',
    '- **answer w/o chain**: loss of the held-out answers given the question alone (the answer-only versions of the held-out chains).',
    '- **refusal (harmful)**: full refusals by the string-match classifier (src/eval/refusal.ts); **compliance (benign)**: full compliance; **well-formed**: outputs whose step blocks are well formed.',
    '- **reasoning**: outputs that wrote an analysis or guidance block before the answer (adaptive length).',
    '- **distinct answers**: different answer texts among the outputs; a model that gives one canned answer to every prompt has 1, and its refusal and compliance rates then say nothing about judgement.',
    '- **tokens / answer**: mean content tokens of the answer block; **tokens / output**: every generated token.',
    '- **train s**: wall-clock seconds of training on a shared machine: the only column that changes between runs with the same seed.',
    '',
  ].join('\n');
}

/** ablation.json: the result, pretty-printed. */
export function renderAblationJson(result: AblationResult): string {
  return `${JSON.stringify(result, null, 2)}\n`;
}

/** The paths `writeAblation` wrote. */
export interface AblationPaths {
  json: string;
  markdown: string;
  /** The report with every variant's run. */
  report: string;
  /** Each variant's report (Markdown), by variant name. */
  variants: Record<string, string>;
}

/** Writes every file of the ablation under `dir` (created when missing), each atomically. */
export async function writeAblation(run: AblationRun, dir: string): Promise<AblationPaths> {
  await mkdir(join(dir, 'variants'), { recursive: true });
  const json = join(dir, 'ablation.json');
  const markdown = join(dir, 'ablation.md');
  await writeFileAtomic(json, renderAblationJson(run.result));
  await writeFileAtomic(markdown, renderAblationMarkdown(run.result));
  const variants: Record<string, string> = {};
  for (const { variant, report, run: records } of run.reports) {
    variants[variant] = (await writeReports(report, join(dir, 'variants'), variant)).markdown;
    const lines = records.records.map((r) => `${JSON.stringify(r)}\n`).join('');
    await writeFileAtomic(join(dir, 'variants', `${variant}.records.jsonl`), lines);
  }
  const combined = await writeReports(combinedReport(run.reports), dir, 'eval-report');
  return { json, markdown, report: combined.markdown, variants };
}

/** One report holding every variant's run (the eval report's plots then compare them). */
function combinedReport(reports: AblationRun['reports']): EvalReport {
  if (reports.length === 0) throw new Error('writeAblation: the run has no variants');
  return {
    ...reports[0].report,
    title: 'mote experiment ablation: every variant',
    runs: reports.map((r) => r.report.runs[0]),
  };
}

function loss(x: number | null): string {
  return x === null ? '—' : x.toFixed(3);
}

function share(r: Rate): string {
  return r.rate === null ? '—' : `${(100 * r.rate).toFixed(0)}% (${r.count}/${r.n})`;
}

function count(r: Rate): string {
  return `${r.count}/${r.n}`;
}
