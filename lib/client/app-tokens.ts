import { createHash } from 'node:crypto';
import { ErrorCode } from '../errors';
import type { FractalError } from '../errors';
import { ProviderError } from '../errors';
import type { TokenClient } from '../provider';
import { withRetry, type ResolvedRetry } from '../provider';
import type { AppToken, AppTokenCache } from './token-cache';
import { channels, codeOf } from '../diagnostics';

export interface AppTokenSettings {
  cache: AppTokenCache;
  tokenClient: TokenClient;
  tokenURL: string;
  clientID: string;
  scopes: readonly string[];
  /** Refetch this long before expiry (capped at half the token's lifetime). */
  expiryMarginMs: number;
  /** Lifetime of the cross-process fetch lock. */
  lockTtlMs: number;
  /** How long a caller waits for another process's fetch before giving up. */
  waitTimeoutMs: number;
  retry: ResolvedRetry;
  /** Told when the cache failed and the token was fetched without it. */
  onCacheError: ((err: FractalError) => void) | undefined;
}

/**
 * The cache key of an app token: a hash of where it comes from and what it may do. The client
 * secret is left out (rotating it does not invalidate tokens); the token URL is in, so staging
 * and production tokens of one Redis never mix.
 */
export function appTokenCacheKey(tokenURL: string, clientID: string, scopes: readonly string[]): string {
  const identity = JSON.stringify([tokenURL, clientID, [...new Set(scopes)].sort()]);
  return `client-credentials:${createHash('sha256').update(identity).digest('hex')}`;
}

/**
 * Hands out app tokens (client credentials grant, RFC 6749 section 4.4), fetched at most once at a
 * time:
 * - in this process, concurrent callers share one promise, and the last token is kept in memory
 *   so that most calls touch neither the cache nor the provider;
 * - across processes, the cache's lock elects one fetcher; the others wait for the cache's change
 *   notification and read the token it wrote.
 * A token the resource server rejected (401) is never handed out again: the next fetch replaces it
 * under the lock, so one 401 costs the whole deployment one token request.
 *
 * When the cache fails (Redis down or slow), the token is fetched without it and kept in memory:
 * jobs keep running, at the cost of one token request per process instead of one per deployment.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.4
 */
export class AppTokens {
  readonly #s: AppTokenSettings;
  readonly #key: string;
  #current: AppToken | undefined;
  #flight: Promise<AppToken> | undefined;

  constructor(settings: AppTokenSettings) {
    this.#s = settings;
    this.#key = appTokenCacheKey(settings.tokenURL, settings.clientID, settings.scopes);
  }

  /** A token valid for longer than the expiry margin. `rejected`: a token the resource server refused. */
  async get(rejected?: string): Promise<AppToken> {
    const current = this.#current;
    if (current && this.#fresh(current, rejected)) return current;
    // Later callers of this process must not pick the rejected token up again.
    if (rejected !== undefined && current?.accessToken === rejected) this.#current = undefined;
    const token = await this.#join(rejected);
    // We joined a flight that started before the rejection and found the rejected token: go again.
    return rejected !== undefined && token.accessToken === rejected ? this.#join(rejected) : token;
  }

  #join(rejected: string | undefined): Promise<AppToken> {
    this.#flight ??= this.#obtain(rejected).finally(() => {
      this.#flight = undefined;
    });
    return this.#flight;
  }

  async #obtain(rejected: string | undefined): Promise<AppToken> {
    let token: AppToken;
    try {
      token = await this.#coordinated(rejected);
    } catch (err) {
      if ((err as { code?: unknown } | null)?.code !== ErrorCode.STORE_UNAVAILABLE) throw err;
      this.#s.onCacheError?.(err as FractalError);
      token = await this.#fetch();
    }
    this.#current = token;
    return token;
  }

  async #coordinated(rejected: string | undefined): Promise<AppToken> {
    const { cache, lockTtlMs, waitTimeoutMs } = this.#s;
    const key = this.#key;
    const deadline = Date.now() + waitTimeoutMs;
    for (;;) {
      const cached = await cache.get(key);
      if (cached && this.#fresh(cached.token, rejected)) return cached.token;
      const lock = await cache.acquireLock(key, lockTtlMs);
      if (lock) {
        try {
          // Another process may have written between our read and our lock.
          const again = await cache.get(key);
          if (again && this.#fresh(again.token, rejected)) return again.token;
          const token = await this.#fetch();
          await this.#save(token);
          return token;
        } finally {
          await cache.releaseLock(key, lock).catch(() => undefined);
        }
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new ProviderError(ErrorCode.PROVIDER_TIMEOUT, 'token', `Another process did not finish fetching the app token within ${waitTimeoutMs} ms`);
      }
      // Wakes when the holder writes, or releases the lock (failed), or the lock expires (crashed).
      await cache.waitForChange(key, cached?.version ?? 0, Math.min(remaining, lockTtlMs));
    }
  }

  /** Writes under the lock. A failed write only costs sharing: we still hold a good token. */
  async #save(token: AppToken): Promise<void> {
    const ttlMs = Math.floor(token.expiresAt - this.#margin(token) - Date.now());
    if (ttlMs < 1) return;
    try {
      await this.#s.cache.set(this.#key, token, ttlMs);
    } catch (err) {
      if ((err as { code?: unknown } | null)?.code !== ErrorCode.STORE_UNAVAILABLE) throw err;
      this.#s.onCacheError?.(err as FractalError);
    }
  }

  /** The token endpoint, retrying timeouts, 5xx and 429 (the request has no side effect worth fearing). */
  async #fetch(): Promise<AppToken> {
    const { tokenClient, scopes, retry } = this.#s;
    const obtainedAt = Date.now();
    const { tokenSet } = await withRetry(retry, () => tokenClient.clientCredentials(scopes)).catch((err: unknown) => {
      if (channels.appToken.hasSubscribers) channels.appToken.publish({ outcome: 'failure', durationMs: Date.now() - obtainedAt, code: codeOf(err) });
      throw err;
    });
    if (channels.appToken.hasSubscribers) channels.appToken.publish({ outcome: 'success', durationMs: Date.now() - obtainedAt });
    return { accessToken: tokenSet.accessToken, expiresAt: tokenSet.expiresAt, obtainedAt, scopes: tokenSet.scopes };
  }

  #fresh(token: AppToken, rejected: string | undefined): boolean {
    return token.accessToken !== rejected && Date.now() < token.expiresAt - this.#margin(token);
  }

  /** The expiry margin, capped at half the lifetime so that short-lived tokens are still reused. */
  #margin(token: AppToken): number {
    return Math.min(this.#s.expiryMarginMs, Math.max(0, (token.expiresAt - token.obtainedAt) / 2));
  }
}
