// The eval report: the figures of every run (one model in one generation mode) and the per-output results,
// as one JSON object with a versioned, stable shape (types.ts); Markdown and HTML renderings (markdown.ts, html.ts).
// Everything here is pure; writing all three is report-node.ts.

import { ConfigError } from '../util/errors.js';
import type { Judgement } from './judge.js';
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
