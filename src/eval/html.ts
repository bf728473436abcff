// The self-contained HTML report: inline CSS, the two inline SVG plots of svg.ts, and the tables of
// tables.ts. No scripts, no external resources.

import { esc, safetyVsTokensSvg, stageUsageSvg } from './svg.js';
import { reportTables, type Table } from './tables.js';
import type { EvalReport } from './types.js';

const STYLE = `body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;color:#222}
table{border-collapse:collapse;margin:.5rem 0 1.5rem;font-size:.9rem}
th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:right}
th:first-child,td:first-child,th:nth-child(2),td:nth-child(2){text-align:left}
th{background:#f3f3f3}p.note{color:#555;margin:.25rem 0}figure{margin:1rem 0}figcaption{color:#555}`;

/** The report as one HTML page. */
export function renderHtml(report: EvalReport): string {
  const runs = report.runs.map((r) => r.metrics);
  const { method } = report;
  const body = [
    `<h1>${esc(report.title)}</h1>`,
    report.createdAt ? `<p>Created ${esc(report.createdAt)}.</p>` : '',
    `<p>Refusals: ${esc(method.refusal)}. Intervals: ${esc(method.intervals)}. Judge: ${esc(method.judge ?? 'none')}.</p>`,
    '<h2>Plots</h2>',
    figure(
      safetyVsTokensSvg(runs),
      'Refusal rate on harmful prompts and compliance rate on benign prompts against mean generated tokens per output; bars are intervals.',
    ),
    figure(stageUsageSvg(runs), 'Share of outputs per stage pattern (all prompts).'),
    ...reportTables(report).map(htmlTable),
  ];
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(report.title)}</title>
<style>${STYLE}</style>
</head>
<body>
${body.filter((s) => s !== '').join('\n')}
</body>
</html>
`;
}

function figure(svg: string, caption: string): string {
  return `<figure>${svg}<figcaption>${esc(caption)}</figcaption></figure>`;
}

function htmlTable(t: Table): string {
  const head = `<tr>${t.header.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>`;
  const rows = t.rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('\n');
  return `<h2>${esc(t.title)}</h2>\n<p class="note">${esc(t.note)}</p>\n<table>\n${head}\n${rows}\n</table>`;
}
