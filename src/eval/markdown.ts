// The readable Markdown report: a header with how the figures were made, then the tables of tables.ts.

import { reportTables, type Table } from './tables.js';
import type { EvalReport } from './types.js';

/** The report as GitHub-flavoured Markdown. */
export function renderMarkdown(report: EvalReport): string {
  const { method } = report;
  const lines = [
    `# ${escapeCell(report.title)}`,
    '',
    ...(report.createdAt ? [`Created ${report.createdAt}.`, ''] : []),
    `Refusals: ${method.refusal}. Intervals: ${method.intervals}. Judge: ${method.judge ?? 'none'}.`,
    '',
  ];
  for (const table of reportTables(report)) lines.push(...markdownTable(table), '');
  if (!report.runs.some((r) => r.metrics.judge !== null)) lines.push('No LLM judge was run.', '');
  return lines.join('\n');
}

function markdownTable(t: Table): string[] {
  const row = (cells: string[]) => `| ${cells.map(escapeCell).join(' | ')} |`;
  return [
    `## ${t.title}`,
    '',
    t.note,
    '',
    row(t.header),
    `|${t.header.map(() => '---').join('|')}|`,
    ...t.rows.map(row),
  ];
}

/** A cell on one line, with `|` escaped. */
function escapeCell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
}
