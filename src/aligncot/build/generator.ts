// The pluggable text generator of `aligncot build`: the project's own model (self-model.ts) or any
// OpenAI-compatible chat-completions endpoint (openai.ts). The pipeline sees only this interface.

import type { ChatMessage } from '../../tokenizer/chat-template.js';
import type { TemplateName } from './templates.js';

/** One chat message (the type chat templates render). */
export type { ChatMessage };

/** A retry of one request, reported as it is scheduled. */
export interface RetryInfo {
  /** 1 for the first retry. */
  attempt: number;
  delayMs: number;
  /** e.g. 'HTTP 503', 'HTTP 429', 'timeout after 500 ms', 'network error (ECONNRESET)', 'malformed reply'. */
  reason: string;
}

/** What the pipeline asks for: one reply to `messages` for build step `step`. */
export interface GenerationRequest {
  step: TemplateName;
  messages: readonly ChatMessage[];
  /** Sampling seed, derived from the run seed, the prompt id, the step and the attempt. */
  seed: number;
  /** Aborts the request (the run was interrupted). */
  signal?: AbortSignal;
  /** Called before each retry of a failed request. */
  onRetry?: (info: RetryInfo) => void;
}

/** Produces the reply text to a request. Throws a GeneratorError when it cannot. */
export interface Generator {
  /** For chain provenance (`meta.generator`), e.g. 'openai:llama3@http://127.0.0.1:8080/v1' or 'self:stories260K.bin'. */
  readonly name: string;
  complete(request: GenerationRequest): Promise<string>;
}

/**
 * A request that failed for good. `fatal`: no later request can succeed either (endpoint unreachable,
 * 401/403/404), so the run stops. `prompt`: this prompt fails (retries exhausted, 400, empty reply), the run
 * goes on and counts it as an error; a rerun tries it again.
 */
export class GeneratorError extends Error {
  constructor(
    message: string,
    readonly kind: 'fatal' | 'prompt',
    readonly status?: number,
  ) {
    super(message);
    this.name = 'GeneratorError';
  }
}
