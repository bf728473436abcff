// Eval reports written into a directory (JSON, Markdown, HTML: report.ts, markdown.ts, html.ts), atomically.
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { renderHtml } from './html.js';
import { renderMarkdown } from './markdown.js';
import { renderJson } from './report.js';
import type { EvalReport } from './types.js';

/** The paths `writeReports` wrote. */
export interface ReportPaths {
  json: string;
  markdown: string;
  html: string;
}

/** Writes `<dir>/<basename>.json`, `.md` and `.html` atomically (basename default 'eval-report'). */
export async function writeReports(
  report: EvalReport,
  dir: string,
  basename = 'eval-report',
): Promise<ReportPaths> {
  const paths = {
    json: join(dir, `${basename}.json`),
    markdown: join(dir, `${basename}.md`),
    html: join(dir, `${basename}.html`),
  };
  await writeFileAtomic(paths.json, renderJson(report));
  await writeFileAtomic(paths.markdown, renderMarkdown(report));
  await writeFileAtomic(paths.html, renderHtml(report));
  return paths;
}
