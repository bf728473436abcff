// Options shared by several commands, and the backend set-up every command does first.
import type { Options } from 'yargs';
import { BACKEND_REQUESTS, type BackendRequest, selectBackend } from '../backend/index.js';
import { BUNDLED } from '../run/bundled.js';

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
    describe: 'llama2.c .bin checkpoint',
  },
  tokenizer: {
    type: 'string',
    default: BUNDLED.tokenizer,
    defaultDescription: 'bundled tok512',
    describe: 'llama2.c tokenizer.bin',
  },
} satisfies Record<string, Options>;

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
