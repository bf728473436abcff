// `aligncot build`: self-generation of AlignCoT chains (method.md §1): prompt files,
// templates, generators (own model or an OpenAI-compatible endpoint), verdict parsing, the adaptive
// procedure and the resumable pipeline.

export { type CsvRecord, type CsvTable, parseCsv, parseCsvTable } from './csv.js';
export {
  type ChatMessage,
  type GenerationRequest,
  type Generator,
  GeneratorError,
  type RetryInfo,
} from './generator.js';
export { chatCompletionsUrl, createOpenAIGenerator, type OpenAIGeneratorOptions } from './openai.js';
export { JsonlAppender, type ResumeState, readForResume } from './output.js';
export {
  type BuildChainsOptions,
  type BuildEvent,
  type BuildReport,
  buildChains,
  type LengthCounts,
} from './pipeline.js';
export {
  ON_FAIL,
  type OnFail,
  OUTCOMES,
  type Outcome,
  type ProcedureOptions,
  type ProcedureResult,
  requestSeed,
  runAdaptive,
} from './procedure.js';
export {
  HH_TURNS,
  type HhTurns,
  loadPrompts,
  PROMPT_FORMATS,
  type Prompt,
  type PromptFormat,
  type PromptOptions,
  parsePrompts,
} from './prompts.js';
export { backoffDelay, DEFAULT_RETRY_OPTIONS, parseRetryAfter, type RetryOptions, sleep } from './retry.js';
export { chatPrompt, createModelGenerator, type ModelGeneratorOptions } from './self-model.js';
export {
  DEFAULT_TEMPLATES,
  loadTemplates,
  renderMessages,
  renderTemplate,
  TEMPLATE_NAMES,
  type TemplateName,
  type Templates,
  type TemplateValues,
  type TemplateVariable,
  validateTemplate,
  writeDefaultTemplates,
} from './templates.js';
export { type ParsedVerdict, parseVerdict, type VerdictRule } from './verdict.js';
