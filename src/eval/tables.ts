// The report's tables as data (title, header, rows of cell text), shared by the Markdown and HTML renderings
// so both always show the same figures.

import { FORMAT_VIOLATIONS, STAGE_PATTERN_LABELS, STAGE_PATTERNS } from './format.js';
import { type RunMetrics, SPLITS } from './metrics.js';
import type { MeanStat, Rate } from './stats.js';
import type { EvalReport } from './types.js';

/** One table. */
export interface Table {
  title: string;
  /** A sentence under the title saying what the figures are. */
  note: string;
  header: string[];
  rows: string[][];
}

/** The tables of a report, in reading order; the judge table only when some run was judged. */
export function reportTables(report: EvalReport): Table[] {
  const runs = report.runs.map((r) => r.metrics);
  const tables = [safetyTable(runs), formatTable(runs), stageTable(runs), lengthTable(runs)];
  if (runs.some((r) => r.judge !== null)) tables.push(judgeTable(runs));
  return tables;
}

function safetyTable(runs: RunMetrics[]): Table {
  return {
    title: 'Safety',
    note: 'Refusal rate on harmful prompts (full refusals) and compliance rate on benign prompts, with intervals; partial refusals counted apart.',
    header: ['run', 'mode', 'harmful', 'refusal', 'partial', 'benign', 'compliance', 'partial'],
    rows: runs.map((r) => [
      r.name,
      r.mode,
      String(r.count.harmful),
      rateCell(r.refusalOnHarmful),
      rateCell(r.partialOnHarmful, false),
      String(r.count.benign),
      rateCell(r.complianceOnBenign),
      rateCell(r.partialOnBenign, false),
    ]),
  };
}

function formatTable(runs: RunMetrics[]): Table {
  return {
    title: 'Chain format',
    note: 'Share of outputs whose step blocks are well formed; violations as the number of outputs with each kind.',
    header: ['run', 'mode', 'outputs', 'well formed', 'violations'],
    rows: runs.map((r) => [
      r.name,
      r.mode,
      String(r.count.all),
      rateCell(r.formatAdherence),
      FORMAT_VIOLATIONS.filter((k) => r.violations[k] > 0)
        .map((k) => `${k} ${r.violations[k]}`)
        .join(', ') || 'none',
    ]),
  };
}

function stageTable(runs: RunMetrics[]): Table {
  return {
    title: 'Stage usage',
    note: 'Share of outputs per stage pattern, on harmful and on benign prompts (adaptive chains should be longer on harmful ones).',
    header: ['run', 'mode', 'prompts', ...STAGE_PATTERNS.map((p) => STAGE_PATTERN_LABELS[p])],
    rows: runs.flatMap((r) =>
      SPLITS.filter((s) => s !== 'all').map((s) => [
        r.name,
        r.mode,
        s,
        ...STAGE_PATTERNS.map((p) => shareCell(r.stageUsage[s][p], r.count[s])),
      ]),
    ),
  };
}

function lengthTable(runs: RunMetrics[]): Table {
  const splits = ['harmful', 'benign'] as const;
  return {
    title: 'Length',
    note: 'Mean content tokens per stage (over outputs that have the stage, n in parentheses) and mean generated tokens per output.',
    header: ['run', 'mode', 'prompts', 'analysis', 'guidance', 'answer', 'output'],
    rows: runs.flatMap((r) =>
      splits.map((s) => {
        const t = r.tokens[s];
        return [
          r.name,
          r.mode,
          s,
          meanCell(t.analysis),
          meanCell(t.guidance),
          meanCell(t.answer),
          meanCell(t.total),
        ];
      }),
    ),
  };
}

function judgeTable(runs: RunMetrics[]): Table {
  return {
    title: 'LLM judge',
    note: 'Harmless share of judged outputs (Harm %), helpfulness 1–10 on all prompts (Help), on benign ones, and on harmful ones (Harm-Help).',
    header: [
      'run',
      'mode',
      'judged',
      'harmless',
      'harmless (harmful)',
      'help',
      'help (benign)',
      'Harm-Help',
      'failures',
    ],
    rows: runs.map((r) => {
      const j = r.judge;
      if (!j) return [r.name, r.mode, '0', '–', '–', '–', '–', '–', '–'];
      const failures = Object.entries(j.failures)
        .filter(([, n]) => n > 0)
        .map(([k, n]) => `${k} ${n}`)
        .join(', ');
      return [
        r.name,
        r.mode,
        String(j.judged),
        rateCell(j.harmless),
        rateCell(j.harmlessOnHarmful, false),
        meanCell(j.helpfulness, 2),
        meanCell(j.helpfulnessOnBenign, 2),
        meanCell(j.harmHelp, 2),
        failures || 'none',
      ];
    }),
  };
}

// ---------------------------------------------------------------------------------------------------
// cells

/** "50.0% [15.0, 85.0]" (or "50.0%" without the interval), "–" when undefined. */
export function rateCell(r: Rate, withCi = true): string {
  if (r.rate === null || r.ci === null) return '–';
  const p = (v: number) => (v * 100).toFixed(1);
  return withCi ? `${p(r.rate)}% [${p(r.ci[0])}, ${p(r.ci[1])}]` : `${p(r.rate)}%`;
}

/** "12.5 (n 4)", "–" when there are no values. */
export function meanCell(m: MeanStat, digits = 1): string {
  return m.mean === null ? '–' : `${m.mean.toFixed(digits)} (n ${m.n})`;
}

function shareCell(count: number, n: number): string {
  return n === 0 ? '–' : `${((count / n) * 100).toFixed(1)}%`;
}
