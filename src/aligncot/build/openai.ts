// A Generator over any OpenAI-compatible chat-completions endpoint (OpenAI, llama.cpp server, vLLM,
// Ollama): POST {model, messages, temperature, top_p, max_tokens, seed} → choices[0].message.content.
// Each request has a timeout; 429, 408, 425, 5xx, network errors, timeouts and malformed replies are
// retried with exponential backoff and jitter (retry.ts), waiting at least what Retry-After asks for. After the
// last retry a server that cannot be reached stops the build; any other failure fails that prompt only.

import { ConfigError, check } from '../../util/errors.js';
import { type GenerationRequest, type Generator, GeneratorError } from './generator.js';
import { backoffDelay, DEFAULT_RETRY_OPTIONS, parseRetryAfter, type RetryOptions, sleep } from './retry.js';

/** Options of `createOpenAIGenerator`. */
export interface OpenAIGeneratorOptions {
  /**
   * The API base URL (e.g. http://127.0.0.1:8080/v1 for llama.cpp, http://localhost:11434/v1 for Ollama,
   * http://localhost:8000/v1 for vLLM) or the full `…/chat/completions` URL.
   */
  endpoint: string;
  /** Model name sent with each request. */
  model: string;
  /** Sent as `Authorization: Bearer …` when given (local servers usually need none). */
  apiKey?: string;
  /** Per-request timeout, from sending to the last byte of the reply. Default 60 000 ms. */
  timeoutMs?: number;
  /** Retries of a failed request. Defaults in retry.ts (4 retries, 500 ms doubling, 30 s cap). */
  retry?: Partial<RetryOptions>;
  /** Sampling temperature. Default 0.7. */
  temperature?: number;
  /** Nucleus sampling mass. Default 0.95. */
  topP?: number;
  /** Most tokens per reply. Default 512. */
  maxTokens?: number;
  /** The fetch to use (default: the global one). */
  fetch?: typeof fetch;
  /** Jitter source (default Math.random). */
  random?: () => number;
}

/** One failed attempt that may succeed when retried. */
interface Transient {
  reason: string;
  retryAfterMs?: number;
  /** No connection could be made (the server is not there): after the last retry the whole build stops. */
  unreachable?: boolean;
}

/**
 * Network error codes that mean no connection was made: no server listens, the name or route does not resolve,
 * the connection cannot be set up. Any other network failure (a connection reset or closed mid-request,
 * `UND_ERR_SOCKET`, `ECONNRESET`, `EPIPE`, a body cut short) happened to one request of a server that is there:
 * after its retries it fails that prompt only, and the build goes on.
 */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_NONAME',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** The code of a fetch failure (undici puts it on `cause`, or on the first error of an AggregateError). */
function networkCode(e: unknown): string | undefined {
  const cause = (e as { cause?: { code?: string; errors?: { code?: string }[] } }).cause;
  return cause?.code ?? cause?.errors?.[0]?.code;
}

/** Whether a failed connection will keep failing: the server is not there, or its TLS set-up is refused. */
function unreachable(code: string | undefined): boolean {
  return code !== undefined && (UNREACHABLE_CODES.has(code) || /^ERR_TLS|CERT/.test(code));
}

/** The URL requests go to: the endpoint with `/chat/completions` appended unless it already ends so. */
export function chatCompletionsUrl(endpoint: string): string {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new ConfigError('endpoint', endpoint, 'an http(s) URL such as http://127.0.0.1:8080/v1');
  }
  check(url.protocol === 'http:' || url.protocol === 'https:', 'endpoint', endpoint, 'an http(s) URL');
  const base = url.href.replace(/\/+$/, '');
  return base.endsWith('/chat/completions') ? base : `${base}/chat/completions`;
}

/** A Generator that calls an OpenAI-compatible chat-completions endpoint. */
export function createOpenAIGenerator(options: OpenAIGeneratorOptions): Generator {
  const url = chatCompletionsUrl(options.endpoint);
  check(typeof options.model === 'string' && options.model !== '', 'model', options.model, 'a model name');
  const timeoutMs = options.timeoutMs ?? 60_000;
  check(Number.isFinite(timeoutMs) && timeoutMs > 0, 'timeoutMs', timeoutMs, 'a positive number of ms');
  const retry = { ...DEFAULT_RETRY_OPTIONS, ...options.retry };
  check(
    Number.isInteger(retry.retries) && retry.retries >= 0,
    'retries',
    retry.retries,
    'a non-negative integer',
  );
  const doFetch = options.fetch ?? fetch;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (options.apiKey) headers.authorization = `Bearer ${options.apiKey}`;

  /** One attempt: the reply text, or a Transient failure; throws on abort and on failures not worth retrying. */
  async function attempt(request: GenerationRequest): Promise<string | Transient> {
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = request.signal ? AbortSignal.any([request.signal, timeout]) : timeout;
    const body = JSON.stringify({
      model: options.model,
      messages: request.messages,
      temperature: options.temperature ?? 0.7,
      top_p: options.topP ?? 0.95,
      max_tokens: options.maxTokens ?? 512,
      seed: request.seed,
    });
    let status: number;
    let text: string;
    let retryAfter: string | null;
    try {
      const res = await doFetch(url, { method: 'POST', headers, body, signal });
      status = res.status;
      retryAfter = res.headers.get('retry-after');
      text = await res.text();
    } catch (e) {
      if (request.signal?.aborted) throw request.signal.reason;
      if (timeout.aborted) return { reason: `timeout after ${timeoutMs} ms` };
      const cause = (e as { cause?: { message?: string } }).cause;
      const code = networkCode(e);
      return {
        reason: `network error (${code ?? cause?.message ?? (e as Error).message})`,
        unreachable: unreachable(code),
      };
    }
    if (status >= 200 && status < 300)
      return replyContent(text) ?? { reason: `malformed reply (${preview(text)})` };
    if (status === 429 || status === 408 || status === 425 || status >= 500)
      return { reason: `HTTP ${status}`, retryAfterMs: parseRetryAfter(retryAfter) };
    const detail = `HTTP ${status} from ${url}: ${serverMessage(text)}`;
    if (status === 401 || status === 403)
      throw new GeneratorError(`${detail} (check the API key)`, 'fatal', status);
    if (status === 404)
      throw new GeneratorError(`${detail} (check the endpoint URL and the model name)`, 'fatal', status);
    throw new GeneratorError(detail, 'prompt', status);
  }

  return {
    name: `openai:${options.model}@${url.replace(/\/chat\/completions$/, '')}`,
    async complete(request) {
      for (let n = 0; ; n++) {
        const result = await attempt(request);
        if (typeof result === 'string') return result;
        if (n >= retry.retries) {
          const after = `after ${n + 1} attempt(s)`;
          if (result.unreachable)
            throw new GeneratorError(`cannot reach ${url}: ${result.reason} ${after}`, 'fatal');
          throw new GeneratorError(`${result.reason} from ${url} ${after}`, 'prompt');
        }
        const delayMs = backoffDelay(n + 1, retry, result.retryAfterMs, options.random);
        request.onRetry?.({ attempt: n + 1, delayMs, reason: result.reason });
        await sleep(delayMs, request.signal);
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// helpers

/** choices[0].message.content of a chat-completions reply, or undefined when the reply is not one. */
function replyContent(text: string): string | undefined {
  try {
    const content = JSON.parse(text)?.choices?.[0]?.message?.content;
    return typeof content === 'string' ? content : undefined;
  } catch {
    return undefined;
  }
}

/** The `error.message` of an error reply, or the start of its body. */
function serverMessage(text: string): string {
  try {
    const message = JSON.parse(text)?.error?.message;
    if (typeof message === 'string') return preview(message, 200);
  } catch {}
  return preview(text, 200);
}

function preview(text: string, max = 60): string {
  const s = text.replace(/\s+/g, ' ').trim();
  return s === '' ? 'empty body' : s.length > max ? `${s.slice(0, max - 3)}...` : s;
}
