// `aligncot build`: runs the adaptive procedure (procedure.ts) over a prompt set with a concurrency limit,
// appends each chain to the output JSONL as soon as it is done, and resumes: prompts whose id is already in
// the output (or in the rejected file) are skipped, so an interrupted run loses nothing and duplicates
// nothing. Progress is reported through events; the result is a report with every outcome counted.

import { check } from '../../util/errors.js';
import type { Chain } from '../chain.js';
import { validateChainLine } from '../schema.js';
import { loadChains } from '../schema-node.js';
import { type ChainStats, chainStats, type StatsOptions } from '../stats.js';
import { type Generator, GeneratorError } from './generator.js';
import { JsonlAppender, readForResume } from './output.js';
import { ON_FAIL, type OnFail, OUTCOMES, type Outcome, runAdaptive } from './procedure.js';
import type { Prompt } from './prompts.js';
import { DEFAULT_TEMPLATES, type TemplateName, type Templates } from './templates.js';
import type { ParsedVerdict } from './verdict.js';

/** Options of `buildChains`; only prompts, out and generator are required. */
export interface BuildChainsOptions {
  prompts: readonly Prompt[];
  /** Output chains JSONL; appended to, and read first to resume. */
  out: string;
  generator: Generator;
  /** Default: the built-in templates. */
  templates?: Templates;
  /** Policy for a chain whose final answer fails the check. Default 'drop'. */
  onFail?: OnFail;
  /** Extra attempts under onFail 'retry'. Default 2. */
  retries?: number;
  /** How an unparsed check verdict counts (verdict.ts). Default 'unsafe'. */
  unparsedAs?: 'safe' | 'unsafe';
  /** Prompts in flight at once. Default 4. */
  concurrency?: number;
  /** Only the first `limit` prompts of the set (the same ones on every rerun). Default all. */
  limit?: number;
  /** Run seed of every request. Default 0. */
  seed?: number;
  /** Where dropped chains go (also read to resume). Default `${out}.rejected.jsonl`. */
  rejectedOut?: string;
  /** Stops the run: no new prompts start, requests in flight are aborted, finished chains are kept. */
  signal?: AbortSignal;
  onEvent?: (event: BuildEvent) => void;
  /** Dataset statistics over the whole output file at the end (stats.ts); false to skip. Default {}. */
  stats?: StatsOptions | false;
}

/** Chains written to the output this run, by number of steps: 1 [A], 2 [Xa, A], 3 [Xa, Xg, A]. */
export type LengthCounts = Record<1 | 2 | 3, number>;

/** What a run did: every prompt of the set is counted once, as resumed, by outcome, or remaining. */
export interface BuildReport {
  out: string;
  rejectedOut: string;
  /** Prompts in the set (after `limit`). */
  prompts: number;
  /** Prompts skipped because their id was already in the output or the rejected file. */
  resumed: number;
  /** Prompts finished this run, by outcome ('error' ones are not written and are retried by a rerun). */
  outcomes: Record<Outcome, number>;
  byLength: LengthCounts;
  /** Every check reply this run, by parsed verdict. */
  checks: Record<ParsedVerdict, number>;
  /** onFail 'retry': prompts that needed more than one attempt, and those of them that ended safe. */
  retried: { prompts: number; recovered: number };
  /** Request retries (429, 5xx, timeouts, network errors, malformed replies). */
  requestRetries: number;
  /** The failed prompts and why (messages name the step and the HTTP status, never the prompt text). */
  errors: { id: string; message: string }[];
  /** Bytes of a torn last line cut off the output on resume. */
  truncatedBytes: number;
  /** The run was stopped by `signal` before every prompt was done. */
  interrupted: boolean;
  /** Prompts still to do: not started, interrupted or failed. */
  remaining: number;
  /** Statistics of every chain in the output file (including earlier runs). */
  stats?: ChainStats;
  durationMs: number;
}

/** Progress events of a run, in order: start, then retry/chain/error as they happen, then end. */
export type BuildEvent =
  | { type: 'start'; prompts: number; resumed: number; todo: number; truncatedBytes: number }
  | { type: 'retry'; id: string; step: TemplateName; attempt: number; delayMs: number; reason: string }
  | {
      type: 'chain';
      id: string;
      outcome: Outcome;
      steps: number;
      attempts: number;
      done: number;
      todo: number;
    }
  | { type: 'error'; id: string; message: string; done: number; todo: number }
  | { type: 'end'; report: BuildReport };

/**
 * Builds chains for `prompts` into `out` (see the file header). Returns the report, also when interrupted.
 * Throws a GeneratorError of kind 'fatal' (after writing what was finished) when the generator cannot work
 * at all, and a FormatError when the output to resume has a bad line.
 */
export async function buildChains(options: BuildChainsOptions): Promise<BuildReport> {
  const t0 = performance.now();
  const o = resolveOptions(options);
  const prompts = o.prompts.slice(0, o.limit);
  const done = await readForResume(o.out);
  const rejected = await readForResume(o.rejectedOut);
  const todo = prompts.filter((p) => !done.ids.has(p.id) && !rejected.ids.has(p.id));
  const report = emptyReport(o, prompts.length, prompts.length - todo.length, done.truncatedBytes);
  const emit = o.onEvent ?? (() => {});
  emit({
    type: 'start',
    prompts: prompts.length,
    resumed: report.resumed,
    todo: todo.length,
    truncatedBytes: report.truncatedBytes,
  });

  const stop = new AbortController();
  const onAbort = () => stop.abort(o.signal?.reason);
  if (o.signal?.aborted) onAbort();
  o.signal?.addEventListener('abort', onAbort, { once: true });
  const outFile = new JsonlAppender(o.out);
  const rejectedFile = new JsonlAppender(o.rejectedOut);
  let fatal: unknown;
  let finished = 0;

  const one = async (prompt: Prompt) => {
    try {
      const result = await runAdaptive(prompt, {
        ...o,
        signal: stop.signal,
        onRetry: (info) => {
          report.requestRetries++;
          emit({ type: 'retry', id: prompt.id, ...info });
        },
      });
      const valid = validateChainLine(JSON.stringify(result.chain), o.out, 0);
      if ('errors' in valid)
        throw new GeneratorError(
          `chain fails the schema: ${valid.errors[0].field} ${valid.errors[0].reason}`,
          'prompt',
        );
      await (result.outcome === 'dropped' ? rejectedFile : outFile).append(result.chain);
      count(report, result);
      emit({
        type: 'chain',
        id: prompt.id,
        outcome: result.outcome,
        steps: steps(result.chain),
        attempts: result.attempts,
        done: ++finished,
        todo: todo.length,
      });
    } catch (e) {
      if (stop.signal.aborted) return; // interrupted (or stopping after a fatal error): not counted
      if (!(e instanceof GeneratorError) || e.kind === 'fatal') {
        fatal ??= e;
        stop.abort(e);
        return;
      }
      report.outcomes.error++;
      report.errors.push({ id: prompt.id, message: e.message });
      emit({ type: 'error', id: prompt.id, message: e.message, done: ++finished, todo: todo.length });
    }
  };

  let next = 0;
  const worker = async () => {
    while (!stop.signal.aborted && next < todo.length) await one(todo[next++]);
  };
  try {
    await Promise.all(Array.from({ length: Math.min(o.concurrency, todo.length) }, worker));
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
    await Promise.all([outFile.close(), rejectedFile.close()]);
  }
  if (fatal !== undefined) throw fatal;

  const written = OUTCOMES.filter((k) => k !== 'error').reduce((n, k) => n + report.outcomes[k], 0);
  report.remaining = todo.length - written;
  report.interrupted = o.signal?.aborted === true && report.remaining > 0;
  if (o.stats !== false) report.stats = chainStats(await chainsIn(o.out), o.stats);
  report.durationMs = Math.round(performance.now() - t0);
  emit({ type: 'end', report });
  return report;
}

// ---------------------------------------------------------------------------------------------------
// helpers

type Resolved = Required<Omit<BuildChainsOptions, 'signal' | 'onEvent' | 'limit'>> &
  Pick<BuildChainsOptions, 'signal' | 'onEvent' | 'limit'>;

function resolveOptions(options: BuildChainsOptions): Resolved {
  const o: Resolved = {
    templates: DEFAULT_TEMPLATES,
    onFail: 'drop',
    retries: 2,
    unparsedAs: 'unsafe',
    concurrency: 4,
    seed: 0,
    rejectedOut: `${options.out}.rejected.jsonl`,
    stats: {},
    ...(Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as BuildChainsOptions),
  };
  check(ON_FAIL.includes(o.onFail), 'onFail', o.onFail, ON_FAIL.join(' | '));
  check(Number.isInteger(o.retries) && o.retries >= 0, 'retries', o.retries, 'a non-negative integer');
  check(
    o.unparsedAs === 'safe' || o.unparsedAs === 'unsafe',
    'unparsedAs',
    o.unparsedAs,
    "'safe' or 'unsafe'",
  );
  check(
    Number.isInteger(o.concurrency) && o.concurrency > 0,
    'concurrency',
    o.concurrency,
    'a positive integer',
  );
  check(
    o.limit === undefined || (Number.isInteger(o.limit) && o.limit > 0),
    'limit',
    o.limit,
    'a positive integer',
  );
  check(Number.isInteger(o.seed), 'seed', o.seed, 'an integer');
  check(o.rejectedOut !== o.out, 'rejectedOut', o.rejectedOut, 'a file other than out');
  const seen = new Set<string>();
  const dup = o.prompts.find((p) => seen.size === seen.add(p.id).size);
  check(dup === undefined, 'prompts', dup?.id, 'prompts with unique ids (resume goes by id)');
  return o;
}

function emptyReport(o: Resolved, prompts: number, resumed: number, truncatedBytes: number): BuildReport {
  return {
    out: o.out,
    rejectedOut: o.rejectedOut,
    prompts,
    resumed,
    outcomes: Object.fromEntries(OUTCOMES.map((k) => [k, 0])) as Record<Outcome, number>,
    byLength: { 1: 0, 2: 0, 3: 0 },
    checks: { safe: 0, unsafe: 0, unparsed: 0 },
    retried: { prompts: 0, recovered: 0 },
    requestRetries: 0,
    errors: [],
    truncatedBytes,
    interrupted: false,
    remaining: 0,
    durationMs: 0,
  };
}

function count(report: BuildReport, result: Awaited<ReturnType<typeof runAdaptive>>): void {
  report.outcomes[result.outcome]++;
  for (const v of result.verdicts) report.checks[v]++;
  if (result.outcome !== 'dropped') report.byLength[steps(result.chain)]++;
  if (result.attempts > 1) {
    report.retried.prompts++;
    if (result.outcome !== 'dropped' && result.outcome !== 'kept-unsafe') report.retried.recovered++;
  }
}

/** Steps of a chain: 1 [A], 2 [Xa, A], 3 [Xa, Xg, A]. */
function steps(chain: Chain): 1 | 2 | 3 {
  return chain.guidance !== undefined ? 3 : chain.analysis !== undefined ? 2 : 1;
}

async function chainsIn(path: string): Promise<Chain[]> {
  try {
    return (await loadChains(path, { onError: 'skip' })).chains;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}
