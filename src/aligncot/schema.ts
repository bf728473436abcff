// The chains JSONL format: one Chain per line (chain.ts), read by util/jsonl.ts and validated with zod. Every
// bad line is reported with file, line, field and reason; nothing is dropped without being counted.

import { z } from 'zod';
import { STAGES, STEP_TOKENS } from '../steps.js';
import { JsonlError, parseJsonl, parseJsonlLine } from '../util/jsonl.js';
import type { Chain } from './chain.js';

/** Every step token string; none may appear inside a chain's text (they delimit the steps). */
const RESERVED = STAGES.flatMap((s) => [STEP_TOKENS[s].start, STEP_TOKENS[s].end]);

/** A string with a non-whitespace character and no step token in it. */
const text = z.string({ error: 'expected a non-empty string' }).superRefine((s, ctx) => {
  if (s.trim() === '') ctx.addIssue({ code: 'custom', message: 'expected a non-empty string' });
  const token = RESERVED.find((t) => s.includes(t));
  if (token)
    ctx.addIssue({ code: 'custom', message: `expected text without the reserved step token ${token}` });
});

const turn = z.strictObject(
  {
    role: z.enum(['system', 'user', 'assistant'], { error: 'expected "system", "user" or "assistant"' }),
    content: text,
  },
  { error: 'expected a turn object {role, content}' },
);

const turns = z
  .array(turn, { error: 'expected an array of turns' })
  .min(1, { error: 'expected at least one turn' })
  .superRefine((ts, ctx) => {
    if (ts.length > 0 && ts.at(-1)?.role !== 'user') {
      ctx.addIssue({
        code: 'custom',
        path: [ts.length - 1, 'role'],
        message: 'expected the last turn to be "user"',
      });
    }
  });

/** The zod schema of one chain line. Unknown keys are errors (a typo such as `anwser` must not pass). */
export const ChainSchema = z.strictObject(
  {
    id: text,
    question: z.union([text, turns]),
    analysis: text.optional(),
    guidance: text.optional(),
    answer: text,
    check: z
      .strictObject(
        {
          verdict: z.enum(['safe', 'unsafe'], { error: 'expected "safe" or "unsafe"' }),
          text: text.optional(),
        },
        { error: 'expected an object {verdict, text?}' },
      )
      .optional(),
    meta: z.record(z.string(), z.unknown(), { error: 'expected an object' }).optional(),
  },
  { error: 'expected a JSON object' },
);

/** The keys a chain line may have. */
export const CHAIN_KEYS = Object.keys(ChainSchema.shape);

/** One problem with one line: `field` is a path like `question[1].role` ('' for the whole line). */
export interface ChainError {
  file: string;
  /** 1-based line number. */
  line: number;
  field: string;
  /** What was expected and what was found. */
  reason: string;
}

/** Line counts of a chains file: `lines` = ok + bad + blank. */
export interface ChainCounts {
  lines: number;
  ok: number;
  bad: number;
  blank: number;
}

/** What loading a chains file gives: the valid chains in file order, every error, and the counts. */
export interface LoadedChains {
  chains: Chain[];
  errors: ChainError[];
  counts: ChainCounts;
}

export interface LoadChainsOptions {
  /**
   * 'throw': after reading the whole file, throw a JsonlError naming file, line, field and reason of the first
   * bad line (and how many more errors there are; its `errors` lists them all). 'skip': return the good chains
   * with every error.
   */
  onError: 'throw' | 'skip';
  /** The longest line accepted, in UTF-8 bytes, checked before parsing (util/jsonl.ts). Default 1 MiB. */
  maxLineBytes?: number;
}

/** Validates the JSONL text of a chains file; `file` names it in errors. See `loadChains`. */
export function parseChains(source: string, file: string, options: LoadChainsOptions): LoadedChains {
  const jsonl = parseJsonl(source, file, { onError: 'collect', maxLineBytes: options.maxLineBytes });
  const chains: Chain[] = [];
  const errors: ChainError[] = jsonl.errors.map((e) => ({ ...e, field: '' }));
  const counts: ChainCounts = { lines: jsonl.lines, ok: 0, bad: errors.length, blank: jsonl.blank };
  const firstLineOf = new Map<string, number>();
  for (const { line, value } of jsonl.records) {
    const found = validateChain(value, file, line);
    if ('errors' in found) {
      errors.push(...found.errors);
      counts.bad++;
      continue;
    }
    const first = firstLineOf.get(found.chain.id);
    if (first !== undefined) {
      const reason = `expected a unique id, got ${JSON.stringify(found.chain.id)} (first on line ${first})`;
      errors.push({ file, line, field: 'id', reason });
      counts.bad++;
      continue;
    }
    firstLineOf.set(found.chain.id, line);
    chains.push(found.chain);
    counts.ok++;
  }
  errors.sort((a, b) => a.line - b.line); // stable: a line's errors keep their order
  if (options.onError === 'throw' && errors.length > 0) throw chainsError(errors, counts);
  return { chains, errors, counts };
}

/** Validates one line of JSON text (the line cap and JSON parsing of util/jsonl.ts, then the chain schema). */
export function validateChainLine(
  content: string,
  file: string,
  line: number,
): { chain: Chain } | { errors: ChainError[] } {
  const parsed = parseJsonlLine(content, line);
  if ('reason' in parsed) return { errors: [{ file, line, field: '', reason: parsed.reason }] };
  return validateChain(parsed.value, file, line);
}

/** Validates one parsed line against the chain schema. */
function validateChain(
  value: unknown,
  file: string,
  line: number,
): { chain: Chain } | { errors: ChainError[] } {
  const result = ChainSchema.safeParse(value);
  if (result.success) return { chain: result.data as Chain };
  return {
    errors: result.error.issues
      .flatMap((issue) => describeIssue(issue, value, []))
      .map((e) => ({ file, line, ...e })),
  };
}

// ---------------------------------------------------------------------------------------------------
// helpers

type Issue = z.core.$ZodIssue;
type Path = readonly PropertyKey[];

/** A zod issue → one or more {field, reason}, naming the value found. */
function describeIssue(issue: Issue, root: unknown, prefix: Path): { field: string; reason: string }[] {
  const path = [...prefix, ...issue.path];
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({
      field: fieldName([...path, key]),
      reason: `expected one of the keys ${CHAIN_KEYS.join(', ')}, got unknown key ${JSON.stringify(key)}`,
    }));
  }
  const value = valueAt(root, path);
  if (issue.code === 'invalid_union') {
    // question: string or turns. Report the branch the value's type selects; otherwise say both are allowed.
    const branch = typeof value === 'string' ? 0 : Array.isArray(value) ? 1 : -1;
    if (branch >= 0) return issue.errors[branch].flatMap((inner) => describeIssue(inner, root, path));
    return [
      {
        field: fieldName(path),
        reason: `expected a non-empty string or an array of turns, got ${preview(value)}`,
      },
    ];
  }
  return [{ field: fieldName(path), reason: `${issue.message}, got ${preview(value)}` }];
}

function valueAt(root: unknown, path: Path): unknown {
  let v = root;
  for (const key of path)
    v = v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[key] : undefined;
  return v;
}

/** ['question', 1, 'role'] → 'question[1].role'. */
function fieldName(path: Path): string {
  return path
    .map((k, i) => (typeof k === 'number' ? `[${k}]` : i === 0 ? String(k) : `.${String(k)}`))
    .join('');
}

/** A short rendering of a found value for error messages. */
function preview(value: unknown): string {
  if (value === undefined) return 'nothing (missing)';
  const s = JSON.stringify(value);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** The error thrown by onError 'throw': names the first error, counts the others, and lists them all. */
function chainsError(errors: ChainError[], counts: ChainCounts): JsonlError {
  const lines = errors.map(({ file, line, field, reason }) => ({
    file,
    line,
    reason: field ? `${field}: ${reason}` : reason,
  }));
  return new JsonlError(lines, counts.bad);
}
