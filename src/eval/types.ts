// The shape of the eval report, alone so that its renderings (markdown.ts, html.ts, tables.ts) and its builder
// (report.ts) can share it without importing one another. Types only: nothing here exists at run time.

import type { ItemResult, RunMetrics } from './metrics.js';

/** The `schema` field of every report (the value is REPORT_SCHEMA in report.ts). */
export type ReportSchema = 'mote-eval-report';
/** The report's shape version (the value is REPORT_VERSION in report.ts); bumped on any change of the shape. */
export type ReportVersion = 1;

/** One run in a report. */
export interface ReportRun {
  metrics: RunMetrics;
  items: ItemResult[];
}

/** The whole report (the JSON file). */
export interface EvalReport {
  schema: ReportSchema;
  version: ReportVersion;
  title: string;
  /** ISO time given by the caller (reports are pure functions of their input), or null. */
  createdAt: string | null;
  method: {
    /** How refusals were labelled. */
    refusal: string;
    /** Interval method and level. */
    intervals: string;
    /** The judge's name (Generator.name), or null when no judge was run. */
    judge: string | null;
  };
  runs: ReportRun[];
}
