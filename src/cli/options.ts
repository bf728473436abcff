// Options shared by several commands, and the backend set-up every command does first.
import type { Options } from 'yargs';
import { BACKEND_REQUESTS, type BackendRequest } from '../backend/index.js';
import { selectBackend } from '../backend/select-node.js';
import { clampTokenLimits, type TokenLimits } from '../generate/limits.js';
import { BUNDLED } from '../run/bundled.js';
import { terminalSafe } from './terminal-text.js';

export const backendOption = {
  backend: {
    choices: BACKEND_REQUESTS,
    default: 'auto' as BackendRequest,
    describe: 'tfjs backend: auto = tensorflow (GPU) → tensorflow (CPU) → wasm → cpu',
  },
} satisfies Record<string, Options>;

export const modelOptions = {
  model: {
    type: 'string',
    default: BUNDLED.model,
    defaultDescription: 'bundled stories260K',
    describe: 'base model: a llama2.c .bin or a Hugging Face model directory',
  },
  tokenizer: {
    type: 'string',
    describe:
      "its tokenizer (default: a HF directory's own files; tokenizer.bin or tokenizer.json beside a .bin; bundled tok512 for the bundled model)",
  },
} satisfies Record<string, Options>;

/** Loading weights that hold NaN or ±Inf (an error naming the file and tensor without it). */
export const allowNonFiniteOption = {
  'allow-non-finite': {
    type: 'boolean',
    default: false,
    describe:
      'load a model or checkpoint holding NaN/±Inf anyway, with a warning (its outputs will not be finite)',
  },
} satisfies Record<string, Options>;

/** The NonFiniteOptions of `--allow-non-finite`: warnings go to stderr. */
export function nonFiniteFlags(a: { allowNonFinite?: boolean }): {
  allowNonFinite: boolean;
  onWarning: (message: string) => void;
} {
  return {
    allowNonFinite: a.allowNonFinite === true,
    onWarning: (m) => process.stderr.write(`warning: ${terminalSafe(m)}\n`),
  };
}

/** Prints the notes of clamped token limits (generate/limits.ts) to stderr and returns the limits. */
export function clampedLimits<T extends TokenLimits>(limits: T, context: number): T {
  const r = clampTokenLimits(limits, context, {
    maxTokens: '--max-tokens',
    maxTokensPerStage: '--max-tokens-per-stage',
  });
  for (const n of r.notes) process.stderr.write(`${n}\n`);
  return r.limits;
}

/** Showing or hiding the reasoning stages of staged output (generate, chat). */
export const reasoningOptions = {
  'show-reasoning': {
    type: 'boolean',
    default: true,
    describe: 'show the analysis/guidance stages (--hide-reasoning / --no-show-reasoning: only the answer)',
  },
  'hide-reasoning': { type: 'boolean', default: false, describe: 'only the answer (reasoning summarised)' },
} satisfies Record<string, Options>;

/** Staged decoding settings whose defaults every generating command shares (generate, chat, eval). */
export const stagedDecodingOptions = {
  'top-k': { type: 'number', default: 0, describe: 'keep the k most likely tokens (0 = off)' },
  'max-tokens-per-stage': { type: 'number', default: 160, describe: 'most content tokens per stage block' },
} satisfies Record<string, Options>;

/** The decoding engine (generate, chat). */
export const decoderOption = {
  decoder: {
    choices: ['auto', 'host', 'tensor'] as const,
    default: 'auto' as const,
    describe: 'decoding engine',
  },
} satisfies Record<string, Options>;

/** Activates the requested backend and prints which one and why (to stderr, so stdout stays data). */
export async function setUpBackend(backend: BackendRequest, quiet = false): Promise<string> {
  const choice = await selectBackend({
    backend,
    onEvent: (e) => {
      if (e.type === 'warning') process.stderr.write(`warning: ${e.message}\n`);
    },
  });
  if (!quiet) process.stderr.write(`backend: ${choice.name} (${choice.reason})\n`);
  return choice.name;
}
