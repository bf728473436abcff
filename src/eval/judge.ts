// The optional LLM judge: scores each (question, answer) through any chat Generator, usually an
// OpenAI-compatible endpoint (the client of aligncot/build/openai.ts: per-request timeout, retries with
// backoff and jitter on 429/408/425/5xx/timeouts/network errors, honouring Retry-After).
//
// Failure policy:
// - before the run, one preflight request ("reply OK"), sent with the client's retries: if it fails the
//   endpoint is unusable (unreachable, 401/403/404, nothing but errors) and `judge` throws a JudgeError;
// - during the run, a failed request (retries exhausted, 400, timeout) or a reply without a readable verdict
//   is recorded on that item with its reason, and the run goes on;
// - if `maxConsecutiveFatal` requests in a row fail fatally (the endpoint went away mid-run), the remaining
//   requests are not sent and are recorded as 'skipped', so the run ends quickly with what it has.

import type { Generator } from '../aligncot/build/generator.js';
import { GeneratorError } from '../aligncot/build/generator.js';
import { createOpenAIGenerator, type OpenAIGeneratorOptions } from '../aligncot/build/openai.js';
import { check } from '../util/errors.js';
import {
  JUDGE_ASPECTS,
  type JudgeAspect,
  type JudgePrompts,
  parseHarmlessVerdict,
  parseHelpfulnessRating,
  renderJudgePrompt,
  resolveJudgePrompts,
} from './judge-prompts.js';
import { answerText, type EvalRecord } from './record.js';

/** One thing to judge. */
export interface JudgeItem {
  id: string;
  question: string;
  harmful: boolean;
  answer: string;
}

/** Why one aspect of one item has no score. */
export interface JudgeFailure {
  aspect: JudgeAspect;
  /** request: the request failed; malformed: the reply had no readable verdict; skipped: not sent (endpoint gone). */
  kind: 'request' | 'malformed' | 'skipped';
  reason: string;
}

/** The judge's scores of one item; a score is absent when its aspect failed (see `failures`). */
export interface Judgement {
  id: string;
  harmful: boolean;
  harmless?: boolean;
  /** 1–10. */
  helpfulness?: number;
  failures: JudgeFailure[];
  /** The judge's raw replies, for inspection (not copied into reports). */
  replies: Partial<Record<JudgeAspect, string>>;
}

/** Progress of a judge run. Events carry ids, never question or answer text. */
export type JudgeEvent =
  | { type: 'retry'; id: string; aspect: JudgeAspect; attempt: number; delayMs: number; reason: string }
  | { type: 'scored'; id: string; aspect: JudgeAspect; ok: boolean; done: number; total: number };

/** Options of `judge`: the generator is required, everything else has a default. */
export interface JudgeOptions {
  /** Where the judge's replies come from: `createJudgeGenerator(…)`, or any Generator (e.g. a local model). */
  generator: Generator;
  /** Replaces default prompts (judge-prompts.ts). */
  prompts?: Partial<JudgePrompts>;
  /** What to score. Default both: harmless and helpfulness. */
  aspects?: readonly JudgeAspect[];
  /** Requests in flight at once. Default 4. */
  concurrency?: number;
  /** Send one request before the run and throw a JudgeError if it fails. Default true. */
  preflight?: boolean;
  /** After this many fatal failures in a row, skip the remaining requests. Default 3. */
  maxConsecutiveFatal?: number;
  /** Sampling seed sent with every request. Default 0. */
  seed?: number;
  signal?: AbortSignal;
  onEvent?: (event: JudgeEvent) => void;
}

/** The judge endpoint cannot be used (the preflight request failed). */
export class JudgeError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'JudgeError';
  }
}

/** The text of the preflight request. */
export const PREFLIGHT_MESSAGE = 'This is a connection check. Reply with the single word OK.';

/** An OpenAI-compatible judge client: temperature 0, top-p 1, 512 tokens per reply unless overridden. */
export function createJudgeGenerator(options: OpenAIGeneratorOptions): Generator {
  return createOpenAIGenerator({ temperature: 0, topP: 1, maxTokens: 512, ...options });
}

/** The judge items of eval records: the answer block, or the whole text without step tokens (`answerText`). */
export function judgeItemsOf(records: readonly EvalRecord[]): JudgeItem[] {
  return records.map((r) => ({
    id: r.id,
    question: r.question,
    harmful: r.harmful,
    answer: answerText(r.output),
  }));
}

/** Scores every item on every aspect; one Judgement per item, in input order. See the file header for failures. */
export async function judge(items: readonly JudgeItem[], options: JudgeOptions): Promise<Judgement[]> {
  const { generator, signal, onEvent } = options;
  const prompts = resolveJudgePrompts(options.prompts);
  const aspects = options.aspects ?? JUDGE_ASPECTS;
  aspects.forEach((a, i) => {
    check(JUDGE_ASPECTS.includes(a), `aspects[${i}]`, a, JUDGE_ASPECTS.join(' | '));
  });
  const concurrency = options.concurrency ?? 4;
  check(Number.isInteger(concurrency) && concurrency >= 1, 'concurrency', concurrency, 'an integer >= 1');
  const maxFatal = options.maxConsecutiveFatal ?? 3;
  check(Number.isInteger(maxFatal) && maxFatal >= 1, 'maxConsecutiveFatal', maxFatal, 'an integer >= 1');
  const seed = options.seed ?? 0;

  const judgements: Judgement[] = items.map((it) => ({
    id: it.id,
    harmful: it.harmful,
    failures: [],
    replies: {},
  }));
  const tasks = items.flatMap((_, i) => aspects.map((aspect) => ({ i, aspect })));
  if (tasks.length === 0) return judgements;
  if (options.preflight ?? true) await preflight(generator, seed, signal);

  let next = 0;
  let done = 0;
  let fatalInARow = 0;
  let lastFatal = '';

  async function score(i: number, aspect: JudgeAspect): Promise<boolean> {
    const item = items[i];
    const j = judgements[i];
    if (fatalInARow >= maxFatal) {
      const reason = `not sent: ${fatalInARow} requests in a row could not use the judge (last: ${lastFatal})`;
      j.failures.push({ aspect, kind: 'skipped', reason });
      return false;
    }
    let reply: string;
    try {
      reply = await generator.complete({
        step: 'check', // the chat clients ignore the build step; a judge request is a check of an answer
        messages: [
          { role: 'system', content: prompts.system },
          { role: 'user', content: renderJudgePrompt(prompts[aspect], item) },
        ],
        seed,
        signal,
        onRetry: (info) => onEvent?.({ type: 'retry', id: item.id, aspect, ...info }),
      });
    } catch (e) {
      if (signal?.aborted) throw e;
      const fatal = e instanceof GeneratorError && e.kind === 'fatal';
      fatalInARow = fatal ? fatalInARow + 1 : 0;
      if (fatal) lastFatal = (e as Error).message;
      j.failures.push({ aspect, kind: 'request', reason: (e as Error).message ?? String(e) });
      return false;
    }
    fatalInARow = 0;
    j.replies[aspect] = reply;
    const parsed = aspect === 'harmless' ? parseHarmlessVerdict(reply) : parseHelpfulnessRating(reply);
    if (!parsed.ok) {
      j.failures.push({ aspect, kind: 'malformed', reason: parsed.reason });
      return false;
    }
    if (aspect === 'harmless') j.harmless = parsed.value as boolean;
    else j.helpfulness = parsed.value as number;
    return true;
  }

  async function worker(): Promise<void> {
    while (next < tasks.length) {
      const { i, aspect } = tasks[next++];
      const ok = await score(i, aspect);
      onEvent?.({ type: 'scored', id: items[i].id, aspect, ok, done: ++done, total: tasks.length });
    }
  }

  await Promise.all(Array.from({ length: Math.min(concurrency, tasks.length) }, worker));
  for (const j of judgements)
    j.failures.sort((a, b) => aspects.indexOf(a.aspect) - aspects.indexOf(b.aspect));
  return judgements;
}

/** One small request; throws a JudgeError saying what to check when it fails. */
async function preflight(generator: Generator, seed: number, signal?: AbortSignal): Promise<void> {
  try {
    await generator.complete({
      step: 'check',
      messages: [{ role: 'user', content: PREFLIGHT_MESSAGE }],
      seed,
      signal,
    });
  } catch (e) {
    if (signal?.aborted) throw e;
    const message = (e as Error).message ?? String(e);
    throw new JudgeError(
      `judge ${generator.name} is not usable: the preflight request failed: ${message}; expected a reachable OpenAI-compatible chat-completions endpoint (check the URL, that the server is running, the model name and the API key)`,
      { cause: e },
    );
  }
}
