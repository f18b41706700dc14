import { ErrorCode } from '../errors';

export interface RetryOptions {
  /** Attempts in total, the first included. Default 3. */
  attempts?: number;
  /** Backoff before the second attempt; doubles each time, with full jitter. Default 250 ms. */
  baseDelayMs?: number;
  /** Upper bound on one backoff. Default 2000 ms. */
  maxDelayMs?: number;
}

export type ResolvedRetry = Required<RetryOptions>;

export function resolveRetry(options: RetryOptions = {}): ResolvedRetry {
  return {
    attempts: Math.max(1, Math.floor(options.attempts ?? 3)),
    baseDelayMs: Math.max(0, options.baseDelayMs ?? 250),
    maxDelayMs: Math.max(0, options.maxDelayMs ?? 2000),
  };
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

/** Runs `operation`, retrying transient failures with exponential backoff and full jitter. */
export async function withRetry<T>(options: ResolvedRetry, operation: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation();
    } catch (err) {
      if (attempt >= options.attempts || !isTransient(err)) throw err;
      const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** (attempt - 1));
      await new Promise((resolve) => setTimeout(resolve, Math.random() * ceiling));
    }
  }
}
