import { resolveRetry, type RetryOptions } from './retry';

/** Backoff for the back-office client: the vault's {@link RetryOptions} plus a bound on `Retry-After`. */
export interface ClientRetryOptions extends RetryOptions {
  /**
   * The longest `Retry-After` the client is willing to sleep. When the provider asks for more, the
   * call fails at once with `retryAfterMs` on the error, so a job can reschedule itself instead of
   * holding a process (and a lock-free token) for minutes. Default 30 000 ms.
   */
  maxRetryAfterMs?: number;
}

export interface ResolvedClientRetry {
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  maxRetryAfterMs: number;
}

export function resolveClientRetry(options: ClientRetryOptions = {}): ResolvedClientRetry {
  return { ...resolveRetry(options), maxRetryAfterMs: Math.max(0, options.maxRetryAfterMs ?? 30_000) };
}

/**
 * `Retry-After` in milliseconds from now: either delay-seconds or an HTTP-date. Unparseable values
 * are ignored (`undefined`), a date in the past means "now" (0).
 *
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-10.2.3
 */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // Only the HTTP-date forms (IMF-fixdate and the two obsolete ones) carry letters; a bare number
  // with a sign or a fraction is invalid rather than a date.
  if (!/[a-z]/i.test(text)) return undefined;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * How long to sleep before attempt `attempt + 1`. The server's `Retry-After` wins when given (it
 * knows its own rate limit); otherwise exponential backoff with full jitter, so that many workers
 * failing together do not come back together.
 *
 * @see https://aws.amazon.com/builders-library/timeouts-retries-and-backoff-with-jitter/
 */
export function backoffDelay(attempt: number, options: ResolvedClientRetry, retryAfterMs?: number): number {
  if (retryAfterMs !== undefined) return retryAfterMs;
  const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** (attempt - 1));
  return Math.random() * ceiling;
}

/** What a failed attempt means for the retry loop. */
export interface RetryVerdict {
  retry: boolean;
  /** The server's `Retry-After`, in ms. */
  retryAfterMs?: number;
}

/**
 * Runs `operation` up to `attempts` times. `classify` decides which failures are worth another
 * try. A `Retry-After` above `maxRetryAfterMs` ends the loop: the error is rethrown as it is (it
 * carries `retryAfterMs` for the caller).
 */
export async function withBackoff<T>(
  options: ResolvedClientRetry,
  operation: (attempt: number) => Promise<T>,
  classify: (err: unknown) => RetryVerdict,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation(attempt);
    } catch (err) {
      if (attempt >= options.attempts) throw err;
      const verdict = classify(err);
      if (!verdict.retry) throw err;
      if (verdict.retryAfterMs !== undefined && verdict.retryAfterMs > options.maxRetryAfterMs) throw err;
      await sleep(backoffDelay(attempt, options, verdict.retryAfterMs));
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
