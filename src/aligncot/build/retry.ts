// Retry timing: exponential backoff with jitter, and the server's Retry-After when it sends one.

/** How often and how long to wait between attempts of one request. */
export interface RetryOptions {
  /** Retries after the first attempt. Default 4. */
  retries: number;
  /** Backoff before retry 1; doubles with every retry. Default 500 ms. */
  baseDelayMs: number;
  /** Cap of one wait, including a Retry-After the server asks for. Default 30 000 ms. */
  maxDelayMs: number;
}

/** 4 retries, 500 ms doubling, 30 s cap. */
export const DEFAULT_RETRY_OPTIONS: Readonly<RetryOptions> = Object.freeze({
  retries: 4,
  baseDelayMs: 500,
  maxDelayMs: 30_000,
});

/**
 * Wait before retry `attempt` (1-based): "equal jitter", uniform in [d/2, d] with d = base·2^(attempt−1)
 * capped at maxDelayMs, and never less than `retryAfterMs` (itself capped at maxDelayMs).
 */
export function backoffDelay(
  attempt: number,
  options: RetryOptions,
  retryAfterMs?: number,
  random: () => number = Math.random,
): number {
  const d = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** (attempt - 1));
  const jittered = d / 2 + (random() * d) / 2;
  return Math.round(Math.max(jittered, Math.min(retryAfterMs ?? 0, options.maxDelayMs)));
}

/** A Retry-After header (delay in seconds, or an HTTP date) in milliseconds; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
