// The input of the evaluation: one EvalRecord per (prompt, generated output). The generation side (staged
// generation, generate/) produces them; the metrics, the judge and the reports only read them. They can also
// be stored one per line as JSONL and read back with `parseEvalRecords`.
//
//   {"id": "advbench-400", "question": "…", "harmful": true, "source": "advbench",
//    "output": {"text": "<|analysis|> …<|/analysis|><|response|> I can't help with that.<|/response|>",
//               "stages": {"analysis": "…", "answer": "I can't help with that."},
//               "tokensPerStage": {"analysis": 31, "answer": 7}, "totalTokens": 42}}

import { z } from 'zod';
import { STEP_TOKENS } from '../steps.js';
import { FormatError } from '../util/errors.js';
import { parseJsonl } from '../util/jsonl.js';

/** The stages a model generates at inference (`check` is used to build data only). */
export const OUTPUT_STAGES = ['analysis', 'guidance', 'answer'] as const;
/** One of OUTPUT_STAGES. */
export type OutputStage = (typeof OUTPUT_STAGES)[number];

/** What the model generated for one prompt. */
export interface EvalOutput {
  /** The generated text after the question, with step tokens as decoded, e.g. "<|response|> …<|/response|>". */
  text: string;
  /** The content of each stage block the generation produced; a skipped stage is absent. */
  stages: Partial<Record<OutputStage, string>>;
  /** Generated content tokens of each present stage, without its start/end step tokens. */
  tokensPerStage: Partial<Record<OutputStage, number>>;
  /** Every generated token: step tokens, contents, anything outside blocks, and EOS when generated. */
  totalTokens: number;
}

/** One evaluated prompt and the model's output. */
export interface EvalRecord {
  /** The prompt id, unique within a run. */
  id: string;
  question: string;
  /** Whether the prompt is harmful (a refusal is wanted) or benign (an answer is wanted). */
  harmful: boolean;
  /** Where the prompt comes from, e.g. 'advbench' (optional, for grouping). */
  source?: string;
  output: EvalOutput;
}

/** The records of one model in one generation mode: one point in the report's plots. */
export interface EvalRun {
  /** The model (or method) name, e.g. 'mote-stories260K'. */
  name: string;
  /** The generation mode, e.g. 'adaptive', 'answer-only', 'full-chain'. */
  mode: string;
  records: EvalRecord[];
}

/**
 * The text the refusal classifier and the judge see: the answer block, or else (no answer block) the pieces of
 * text between step tokens, one per line.
 */
export function answerText(output: EvalOutput): string {
  if (output.stages.answer !== undefined) return output.stages.answer;
  return output.text
    .split(STEP_TOKEN_LIKE)
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .join('\n');
}

/** The message of an object issue: unknown keys by name, anything else as `expected …`. */
function objectError(expected: string) {
  return (issue: { code?: string; keys?: string[] }) =>
    issue.code === 'unrecognized_keys'
      ? `unexpected key(s) ${issue.keys!.map((k) => JSON.stringify(k)).join(', ')}; expected ${expected}`
      : `expected ${expected}`;
}

/** A token count: a non-negative integer. */
const count = z
  .number({ error: 'expected a number of tokens' })
  .int({ error: 'expected an integer number of tokens' })
  .nonnegative({ error: 'expected a non-negative number of tokens' });

/** The zod schema of one record line. Unknown keys are errors. */
export const EvalRecordSchema = z.strictObject(
  {
    id: z.string({ error: 'expected a string' }).min(1, { error: 'expected a non-empty string' }),
    question: z.string({ error: 'expected a string' }),
    harmful: z.boolean({ error: 'expected true or false' }),
    source: z.string({ error: 'expected a string' }).optional(),
    output: z.strictObject(
      {
        text: z.string({ error: 'expected a string' }),
        stages: z.strictObject(
          Object.fromEntries(
            OUTPUT_STAGES.map((s) => [s, z.string({ error: 'expected a string' }).optional()]),
          ),
          { error: objectError('an object {analysis?, guidance?, answer?}') },
        ),
        tokensPerStage: z.strictObject(Object.fromEntries(OUTPUT_STAGES.map((s) => [s, count.optional()])), {
          error: objectError('an object {analysis?, guidance?, answer?} of token counts'),
        }),
        totalTokens: count,
      },
      { error: objectError('an object {text, stages, tokensPerStage, totalTokens}') },
    ),
  },
  { error: objectError('a JSON object {id, question, harmful, source?, output}') },
);

/**
 * Parses the text of a JSONL file of EvalRecords (util/jsonl.ts: blank lines skipped, long lines capped).
 * Throws a FormatError naming the file, the line and the field of the first bad line, a repeated id, or a
 * file without records.
 */
export function parseEvalRecords(text: string, file: string): EvalRecord[] {
  const records: EvalRecord[] = [];
  const firstLine = new Map<string, number>();
  for (const { line, value } of parseJsonl(text, file).records) {
    const result = EvalRecordSchema.safeParse(value);
    if (!result.success) {
      const issue = result.error.issues[0];
      const field = issue.path.map((k) => (typeof k === 'number' ? `[${k}]` : `.${String(k)}`)).join('');
      throw new FormatError(file, String(line), `field ${field.slice(1) || '(record)'}: ${issue.message}`);
    }
    const record = result.data as EvalRecord;
    const first = firstLine.get(record.id);
    if (first !== undefined)
      throw new FormatError(
        file,
        String(line),
        `field id: expected a unique id, got ${JSON.stringify(record.id)} (first on line ${first})`,
      );
    firstLine.set(record.id, line);
    records.push(record);
  }
  if (records.length === 0)
    throw new FormatError(file, '', 'expected at least one record, got none (empty file)');
  return records;
}

// ---------------------------------------------------------------------------------------------------
// helpers

const STEP_TOKEN_LIKE = new RegExp(
  Object.values(STEP_TOKENS)
    .flatMap((t) => [t.start, t.end])
    .map((t) => t.replace(/[|/]/g, '\\$&'))
    .join('|'),
  'g',
);
