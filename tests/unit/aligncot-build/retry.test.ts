// Backoff with jitter and Retry-After, and the endpoint URL of the OpenAI-compatible generator.
import { describe, expect, it } from 'vitest';
import {
  backoffDelay,
  chatCompletionsUrl,
  createOpenAIGenerator,
  parseRetryAfter,
} from '../../../src/aligncot/build/index.js';
import { ConfigError } from '../../../src/util/errors.js';

const opts = { retries: 5, baseDelayMs: 100, maxDelayMs: 1000 };

describe('backoffDelay', () => {
  it('doubles per retry with jitter in [d/2, d], capped', () => {
    expect([1, 2, 3, 4, 5].map((n) => backoffDelay(n, opts, undefined, () => 0))).toEqual([
      50, 100, 200, 400, 500,
    ]);
    expect([1, 2, 3, 4, 5].map((n) => backoffDelay(n, opts, undefined, () => 1))).toEqual([
      100, 200, 400, 800, 1000,
    ]);
  });

  it('waits at least Retry-After, itself capped at maxDelayMs', () => {
    expect(backoffDelay(1, opts, 700, () => 0)).toBe(700);
    expect(backoffDelay(1, opts, 60_000, () => 0)).toBe(1000);
  });
});

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP dates', () => {
    expect(parseRetryAfter('2')).toBe(2000);
    expect(parseRetryAfter('0.5')).toBe(500);
    const now = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT');
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:03 GMT', now)).toBe(3000);
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
  });
});

describe('chatCompletionsUrl', () => {
  it('appends /chat/completions to a base URL, keeps a full one', () => {
    expect(chatCompletionsUrl('http://127.0.0.1:8080/v1/')).toBe('http://127.0.0.1:8080/v1/chat/completions');
    expect(chatCompletionsUrl('http://127.0.0.1:11434/v1/chat/completions')).toBe(
      'http://127.0.0.1:11434/v1/chat/completions',
    );
  });

  it('rejects what is not an http(s) URL', () => {
    expect(() => chatCompletionsUrl('127.0.0.1:8080')).toThrow(ConfigError);
    expect(() => createOpenAIGenerator({ endpoint: 'not a url', model: 'm' })).toThrow(
      /endpoint = "not a url"; expected an http\(s\) URL such as http:\/\/127\.0\.0\.1:8080\/v1/,
    );
    expect(() => createOpenAIGenerator({ endpoint: 'http://127.0.0.1:1/v1', model: '' })).toThrow(
      /model = ""/,
    );
  });
});
