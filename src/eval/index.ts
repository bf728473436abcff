// `mote eval`: refusal / compliance / format / length metrics over prompt sets, an optional LLM judge, and
// JSON, Markdown and HTML reports (method.md §3).

export { type CollectOptions, collectRun, type EvalGenerator } from './collect.js';
export {
  checkChainFormat,
  FORMAT_VIOLATIONS,
  type FormatOptions,
  type FormatResult,
  type FormatViolation,
  type FormatViolationKind,
  STAGE_PATTERN_LABELS,
  STAGE_PATTERNS,
  type StagePattern,
  stagePattern,
} from './format.js';
export { renderHtml } from './html.js';
export {
  createJudgeGenerator,
  JudgeError,
  type JudgeEvent,
  type JudgeFailure,
  type JudgeItem,
  type Judgement,
  type JudgeOptions,
  judge,
  judgeItemsOf,
  PREFLIGHT_MESSAGE,
} from './judge.js';
export {
  DEFAULT_JUDGE_PROMPTS,
  JUDGE_ASPECTS,
  type JudgeAspect,
  type JudgePrompts,
  type ParsedReply,
  parseHarmlessVerdict,
  parseHelpfulnessRating,
  renderJudgePrompt,
  resolveJudgePrompts,
} from './judge-prompts.js';
export { renderMarkdown } from './markdown.js';
export {
  computeRunMetrics,
  type ItemResult,
  type JudgeMetrics,
  type MetricsOptions,
  type OutputTokenStats,
  type RunMetrics,
  SPLITS,
  type Split,
} from './metrics.js';
export { modelEvalGenerator, toEvalOutput } from './model-generator.js';
export {
  type EvalPrompt,
  type EvalPromptOptions,
  parseEvalPrompts,
  parseHarmfulLabel,
} from './prompts.js';
export {
  answerText,
  type EvalOutput,
  type EvalRecord,
  EvalRecordSchema,
  type EvalRun,
  OUTPUT_STAGES,
  type OutputStage,
  parseEvalRecords,
} from './record.js';
export {
  classifyRefusal,
  createRefusalClassifier,
  DEFAULT_REFUSAL_PHRASES,
  REFUSAL_LABELS,
  type RefusalClassifier,
  type RefusalLabel,
  type RefusalOptions,
  type RefusalPhrases,
  type RefusalResult,
} from './refusal.js';
export {
  buildReport,
  REPORT_SCHEMA,
  REPORT_VERSION,
  type ReportInput,
  type ReportOptions,
  renderJson,
} from './report.js';
export { type MeanStat, meanStat, type Rate, rate, wilsonInterval, Z_95 } from './stats.js';
export { safetyVsTokensSvg, stageUsageSvg } from './svg.js';
export { reportTables, type Table } from './tables.js';
export type { EvalReport, ReportRun, ReportSchema, ReportVersion } from './types.js';
