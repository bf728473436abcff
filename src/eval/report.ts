// The eval report: the figures of every run (one model in one generation mode) and the per-output results,
// as one JSON object with a versioned, stable shape (types.ts); Markdown and HTML renderings (markdown.ts, html.ts); and
// writing all three through atomic writes. Everything but `writeReports` is pure.

import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { ConfigError } from '../util/errors.js';
import { renderHtml } from './html.js';
import type { Judgement } from './judge.js';
import { renderMarkdown } from './markdown.js';
import { computeRunMetrics, type MetricsOptions } from './metrics.js';
import type { EvalRun } from './record.js';
import { Z_95 } from './stats.js';
import type { EvalReport, ReportSchema, ReportVersion } from './types.js';

/** The `schema` field of every report. */
export const REPORT_SCHEMA: ReportSchema = 'mote-eval-report';
/** Bumped on any change of the report's shape (types.ts). */
export const REPORT_VERSION: ReportVersion = 1;

/** A run and, optionally, the judge's scores of its outputs. */
export interface ReportInput {
  run: EvalRun;
  judgements?: readonly Judgement[];
}

/** Options of `buildReport`: the metrics options plus what the report header shows. */
export interface ReportOptions extends MetricsOptions {
  /** Default 'mote eval'. */
  title?: string;
  createdAt?: string;
  /** The judge's name, shown in the report. */
  judge?: string;
}

/** Computes every run's figures and assembles the report. Throws a ConfigError on a repeated (name, mode). */
export function buildReport(inputs: readonly ReportInput[], options: ReportOptions = {}): EvalReport {
  const seen = new Set<string>();
  inputs.forEach(({ run }, i) => {
    const key = `${run.name}\u0000${run.mode}`;
    if (seen.has(key))
      throw new ConfigError(`runs[${i}]`, `${run.name} (${run.mode})`, 'a unique (name, mode) per run');
    seen.add(key);
  });
  const z = options.z ?? Z_95;
  const level = z === Z_95 ? '95%' : `z = ${z}`;
  const custom = typeof options.refusal === 'function';
  return {
    schema: REPORT_SCHEMA,
    version: REPORT_VERSION,
    title: options.title ?? 'mote eval',
    createdAt: options.createdAt ?? null,
    method: {
      refusal: custom ? 'custom classifier' : 'string match in the style of XSTest (src/eval/refusal.ts)',
      intervals: `Wilson score, ${level}`,
      judge: options.judge ?? null,
    },
    runs: inputs.map(({ run, judgements }) => computeRunMetrics(run, judgements, options)),
  };
}

/** The report as pretty-printed JSON with a final newline. */
export function renderJson(report: EvalReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

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
