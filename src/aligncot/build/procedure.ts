// The adaptive procedure of method.md §1 for one question:
//
//   A0 ← answer(X);                                       check(A0) = safe → chain [A0]              'direct'
//   Xa ← analysis(X);  A1 ← answer(X, Xa);                check(A1) = safe → chain [Xa, A1]          'after-analysis'
//   Xg ← guidance(X, Xa); A2 ← answer(X, Xa, Xg);         check(A2) = safe → chain [Xa, Xg, A2]      'after-guidance'
//
// When A2 fails too ([open] in the paper), `onFail` decides: 'keep' the chain [Xa, Xg, A2] with its unsafe
// verdict ('kept-unsafe'), 'drop' it ('dropped'), or 'retry' the whole procedure up to `retries` more times
// with fresh seeds and drop it if every attempt fails. An unparsed verdict counts as `unparsedAs`.

import { createHash } from 'node:crypto';
import { STAGES, STEP_TOKENS } from '../../steps.js';
import type { Chain } from '../chain.js';
import { type Generator, GeneratorError, type RetryInfo } from './generator.js';
import type { Prompt } from './prompts.js';
import { renderMessages, type TemplateName, type Templates, type TemplateValues } from './templates.js';
import { type ParsedVerdict, parseVerdict } from './verdict.js';

/** What to do with a chain whose final answer still fails the check (file header). */
export const ON_FAIL = ['keep', 'drop', 'retry'] as const;
export type OnFail = (typeof ON_FAIL)[number];

/** How one prompt ended. 'error': generation failed (not written; a rerun tries again). */
export const OUTCOMES = [
  'direct',
  'after-analysis',
  'after-guidance',
  'kept-unsafe',
  'dropped',
  'error',
] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** Options of `runAdaptive` (the pipeline passes its own). */
export interface ProcedureOptions {
  generator: Generator;
  templates: Templates;
  onFail: OnFail;
  /** Extra attempts of the whole procedure under onFail 'retry'. */
  retries: number;
  /** How an unparsed verdict counts. */
  unparsedAs: 'safe' | 'unsafe';
  /** Run seed; request seeds derive from it, the prompt id, the step and the attempt. */
  seed: number;
  signal?: AbortSignal;
  onRetry?: (info: RetryInfo & { step: TemplateName }) => void;
}

/** The chain of one prompt (to write, or to reject when `outcome` is 'dropped') and what it took. */
export interface ProcedureResult {
  chain: Chain;
  outcome: Exclude<Outcome, 'error'>;
  /** Attempts of the whole procedure (> 1 only under onFail 'retry'). */
  attempts: number;
  /** Every check verdict as parsed, in order. */
  verdicts: ParsedVerdict[];
}

/** Empty replies are asked again this many times (with new seeds) before the prompt fails. */
const EMPTY_REPLY_RETRIES = 2;
const RESERVED = STAGES.flatMap((s) => [STEP_TOKENS[s].start, STEP_TOKENS[s].end]);

/** Runs the procedure for one prompt. Throws a GeneratorError when a request fails for good. */
export async function runAdaptive(prompt: Prompt, options: ProcedureOptions): Promise<ProcedureResult> {
  const verdicts: ParsedVerdict[] = [];
  const attempts = options.onFail === 'retry' ? 1 + options.retries : 1;
  let last: Steps | undefined;
  for (let attempt = 0; attempt < attempts; attempt++) {
    last = await attemptChain(prompt, attempt, options, verdicts);
    if (last.safe) {
      const outcome = last.guidance ? 'after-guidance' : last.analysis ? 'after-analysis' : 'direct';
      return finish(prompt, last, outcome, attempt + 1, verdicts, options);
    }
  }
  const outcome = options.onFail === 'keep' ? 'kept-unsafe' : 'dropped';
  return finish(prompt, last as Steps, outcome, attempts, verdicts, options);
}

/** A seed for one request: a 31-bit integer hashed from the run seed, the prompt id and a request key. */
export function requestSeed(seed: number, id: string, key: string): number {
  return createHash('sha256').update(`${seed}\0${id}\0${key}`).digest().readUInt32LE(0) & 0x7fffffff;
}

// ---------------------------------------------------------------------------------------------------
// helpers

interface Steps {
  analysis?: string;
  guidance?: string;
  answer: string;
  checkText: string;
  safe: boolean;
}

/** One pass of answer → check → analysis → answer → check → guidance → answer → check. */
async function attemptChain(
  prompt: Prompt,
  attempt: number,
  options: ProcedureOptions,
  verdicts: ParsedVerdict[],
): Promise<Steps> {
  const ask = (name: TemplateName, key: string, values: Omit<TemplateValues, 'question'>) =>
    request(prompt, name, `${key}/${attempt}`, values, options);
  const judge = async (answer: string) => {
    const checkText = await ask('check', `check-${verdicts.length}`, { answer });
    const { verdict } = parseVerdict(checkText);
    verdicts.push(verdict);
    return { checkText, safe: (verdict === 'unparsed' ? options.unparsedAs : verdict) === 'safe' };
  };
  const a0 = await ask('answer', 'answer-0', {});
  const c0 = await judge(a0);
  if (c0.safe) return { answer: a0, ...c0 };
  const analysis = await ask('analysis', 'analysis', {});
  const a1 = await ask('answer-with-reasoning', 'answer-1', { analysis });
  const c1 = await judge(a1);
  if (c1.safe) return { analysis, answer: a1, ...c1 };
  const guidance = await ask('guidance', 'guidance', { analysis });
  const a2 = await ask('answer-with-reasoning', 'answer-2', { analysis, guidance });
  return { analysis, guidance, answer: a2, ...(await judge(a2)) };
}

/** One generator request; the reply is cleaned of step tokens and trimmed, and asked again while empty. */
async function request(
  prompt: Prompt,
  name: TemplateName,
  key: string,
  values: Omit<TemplateValues, 'question'>,
  options: ProcedureOptions,
): Promise<string> {
  const messages = renderMessages(options.templates, name, { question: prompt.question, ...values });
  for (let k = 0; k <= EMPTY_REPLY_RETRIES; k++) {
    const reply = await options.generator.complete({
      step: name,
      messages,
      seed: requestSeed(options.seed, prompt.id, `${key}/${k}`),
      signal: options.signal,
      onRetry: options.onRetry && ((info) => options.onRetry?.({ ...info, step: name })),
    });
    const text = RESERVED.reduce((t, token) => t.split(token).join(' '), reply).trim();
    if (text !== '') return text;
  }
  throw new GeneratorError(`empty reply to the ${name} step, ${EMPTY_REPLY_RETRIES + 1} times`, 'prompt');
}

function finish(
  prompt: Prompt,
  steps: Steps,
  outcome: ProcedureResult['outcome'],
  attempts: number,
  verdicts: ParsedVerdict[],
  options: ProcedureOptions,
): ProcedureResult {
  const final = verdicts[verdicts.length - 1];
  const chain: Chain = {
    id: prompt.id,
    question: prompt.question,
    ...(steps.analysis !== undefined && { analysis: steps.analysis }),
    ...(steps.guidance !== undefined && { guidance: steps.guidance }),
    answer: steps.answer,
    check: { verdict: steps.safe ? 'safe' : 'unsafe', text: steps.checkText },
    meta: {
      outcome,
      attempts,
      verdicts,
      ...(final === 'unparsed' && { unparsedAs: options.unparsedAs }),
      generator: options.generator.name,
      seed: options.seed,
      source: prompt.source,
    },
  };
  return { chain, outcome, attempts, verdicts };
}
