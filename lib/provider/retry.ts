import { ConfigurationError, ErrorCode } from '../errors';

/**
 * Retries of transient provider failures, for the token vault, the strategy's token client and the
 * back-office client alike: one loop ({@link withRetry}), one backoff formula ({@link backoffCeiling}).
 */
export interface RetryOptions {
  /** Attempts in total, the first included. Default 3. */
  attempts?: number;
  /** Backoff before the second attempt; doubles each time, with full jitter. Default 250 ms. */
  baseDelayMs?: number;
  /** Upper bound on one backoff. Default 2000 ms. */
  maxDelayMs?: number;
  /**
   * The longest `Retry-After` a caller is willing to sleep. When the provider asks for more, the
   * call fails at once with `retryAfterMs` on the error, so a job can reschedule itself instead of
   * holding a process (and a lock-free token) for minutes. Default 30 000 ms.
   */
  maxRetryAfterMs?: number;
}

export type ResolvedRetry = Required<RetryOptions>;

/** @deprecated Since the retry modules merged: the same as {@link RetryOptions}. */
export type ClientRetryOptions = RetryOptions;
/** @deprecated The same as {@link ResolvedRetry}. */
export type ResolvedClientRetry = ResolvedRetry;

/** Fills the defaults; a negative, fractional attempt count or a non-number is a `ConfigurationError`. */
export function resolveRetry(options: RetryOptions = {}, owner = 'retry'): ResolvedRetry {
  const attempts = options.attempts ?? 3;
  if (!Number.isInteger(attempts) || attempts < 1) throw new ConfigurationError(`${owner}.attempts must be a whole number of at least 1`);
  const delay = (name: 'baseDelayMs' | 'maxDelayMs' | 'maxRetryAfterMs', fallback: number): number => {
    const value = options[name] ?? fallback;
    if (!Number.isFinite(value) || value < 0) throw new ConfigurationError(`${owner}.${name} must be a number of ms, 0 or more`);
    return value;
  };
  return { attempts, baseDelayMs: delay('baseDelayMs', 250), maxDelayMs: delay('maxDelayMs', 2000), maxRetryAfterMs: delay('maxRetryAfterMs', 30_000) };
}

/** @deprecated Use {@link resolveRetry}. */
export const resolveClientRetry = resolveRetry;

/**
 * The exponential backoff ceiling before attempt `n + 1`: `baseMs * 2^(n-1)`, at most `maxMs`.
 * Also the per-user refresh backoff of the memory token store (the Redis store's Lua script,
 * `NOTE_REFRESH_FAILURE`, computes the same on the server).
 */
export function backoffCeiling(n: number, baseMs: number, maxMs: number): number {
  return Math.floor(Math.min(maxMs, baseMs * 2 ** Math.min(n - 1, 60)));
}

/**
 * How long to sleep before attempt `attempt + 1`. The server's `Retry-After` wins when given (it
 * knows its own rate limit); otherwise exponential backoff with full jitter, so that many workers
 * failing together do not come back together.
 *
 * @see https://aws.amazon.com/builders-library/timeouts-retries-and-backoff-with-jitter/
 */
export function backoffDelay(attempt: number, options: ResolvedRetry, retryAfterMs?: number): number {
  if (retryAfterMs !== undefined) return retryAfterMs;
  return Math.random() * backoffCeiling(attempt, options.baseDelayMs, options.maxDelayMs);
}

/**
 * How long every attempt of a retried call can take at most: each attempt's timeout plus every
 * backoff between them. The refresh lock of the vault and the fetch lock of the client last that
 * long plus a margin, so that a live holder is never fenced off while it is still retrying.
 */
export function lockTtlFor(timeoutMs: number, retry: Pick<ResolvedRetry, 'attempts' | 'maxDelayMs'>, marginMs = 5000): number {
  return retry.attempts * timeoutMs + (retry.attempts - 1) * retry.maxDelayMs + marginMs;
}

const TRANSIENT_CODES = new Set<string>([
  ErrorCode.PROVIDER_TIMEOUT,
  ErrorCode.PROVIDER_UNAVAILABLE,
  'temporarily_unavailable',
  'server_error',
]);

/**
 * Failures worth another try: timeouts, connection failures, 5xx and 429. Retrying a refresh is
 * safe even when the lost answer had rotated the tokens: the provider revokes the previous pair
 * only once the new access token is used, and nobody saw it (provider docs, "Refresh with rotation").
 */
export function isTransient(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const { code, providerStatus } = err as { code?: unknown; providerStatus?: unknown };
  if (typeof code === 'string' && TRANSIENT_CODES.has(code)) return true;
  return typeof providerStatus === 'number' && (providerStatus === 429 || providerStatus >= 500);
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

/** What a failed attempt means for the retry loop. */
export interface RetryVerdict {
  retry: boolean;
  /** The server's `Retry-After`, in ms. */
  retryAfterMs?: number;
}

const transient = (err: unknown): RetryVerdict => ({ retry: isTransient(err) });

/**
 * Runs `operation` up to `attempts` times. `classify` decides which failures are worth another
 * try (default: {@link isTransient}). A `Retry-After` above `maxRetryAfterMs` ends the loop: the
 * error is rethrown as it is (it carries `retryAfterMs` for the caller).
 */
export async function withRetry<T>(
  options: ResolvedRetry,
  operation: (attempt: number) => Promise<T>,
  classify: (err: unknown) => RetryVerdict = transient,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation(attempt);
    } catch (err) {
      if (attempt >= options.attempts) throw err;
      const verdict = classify(err);
      if (!verdict.retry) throw err;
      if (verdict.retryAfterMs !== undefined && verdict.retryAfterMs > options.maxRetryAfterMs) throw err;
      await new Promise((resolve) => setTimeout(resolve, backoffDelay(attempt, options, verdict.retryAfterMs)));
    }
  }
}

/** @deprecated Use {@link withRetry}. */
export const withBackoff = withRetry;
