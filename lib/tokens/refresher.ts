import { ErrorCode } from '../errors';
import { ProviderError } from '../errors';
import { ReauthenticationRequiredError } from '../errors';
import { RefreshThrottledError } from '../errors';
import type { FractalTokenSet, TokenClient } from '../provider';
import { openRecord, sealRecord, type VaultRecord } from './codec';
import type { Keyring } from './keyring';
import { withRetry, type ResolvedRetry } from '../provider';
import type { StoredTokens, TokenStore } from './store';
import { channels, codeOf } from '../diagnostics';

/** Test seams (exposed to apps only through the `@internal` vault option `hooks`). */
export interface RefresherHooks {
  /** Runs after the token endpoint answered a refresh and before the new set is written. */
  afterTokenResponse?: () => void | Promise<void>;
}

export interface RefresherSettings {
  store: TokenStore;
  keyring: Keyring;
  /** Bound into every record with the user id, so that another app's records do not open. */
  clientID: string;
  /** Format-1 records (bound to the user id only): read once and rewritten, or refused. */
  legacyRecords: 'migrate' | 'refuse';
  tokenClient: TokenClient;
  refreshSkewMs: number;
  recordTtlMs: number;
  lockTtlMs: number;
  waitTimeoutMs: number;
  retry: ResolvedRetry;
  /** Per-user backoff after a failed refresh; `null` turns it off. */
  backoff: { baseMs: number; maxMs: number } | null;
  hooks?: RefresherHooks;
}

interface Current extends VaultRecord {
  version: number;
}

const CACHED = { cached: true } as const;

/** Refresh rounds (lock, provider, fenced write) one call may go through before giving up. */
const MAX_ROUNDS = 3;

/**
 * Hands out valid access tokens and refreshes them at most once at a time per user, across every
 * process sharing the store:
 * - in this process, concurrent callers for one user share one promise;
 * - across processes, a lock with expiry elects one refresher; the others wait for the store's
 *   change notification and read the new set;
 * - the new set is written (fenced by version and lock) BEFORE anyone gets the new access token,
 *   so a crash between the token response and the write loses nothing: the old refresh token
 *   still works, because the provider revokes it only once the new access token is used;
 * - a refresh that failed (after its retries) starts a per-user backoff in the store, shared by
 *   every process: until it ends, nobody asks the token endpoint for that user again. Callers get
 *   the current access token while it has not expired, `RefreshThrottledError` after that. A
 *   provider outage thus costs one attempt per user per backoff, not a few per request.
 *
 * @see shared docs, "Refresh with rotation"
 */
export class Refresher {
  readonly #s: RefresherSettings;
  readonly #flights = new Map<string, Promise<FractalTokenSet>>();
  /**
   * Records already decrypted, by the store's own reply object: a store-level cache (RedisTokenStore)
   * hands back the same object until the record changes, so a request with a cached record costs
   * no AES-GCM decryption either. Weak: it lives exactly as long as the store keeps the reply.
   */
  readonly #opened = new WeakMap<StoredTokens, { userId: string; data: string; current: Current }>();

  constructor(settings: RefresherSettings) {
    this.#s = settings;
  }

  /**
   * The stored record without refreshing, or `null`. `cached`: a store-level cached copy will do
   * (see `TokenStore.get`). @throws ReauthenticationRequiredError when it does not decrypt.
   */
  async read(userId: string, cached = false): Promise<Current | null> {
    const stored = await this.#s.store.get(userId, cached ? CACHED : undefined);
    if (!stored) return null;
    const seen = cached ? this.#opened.get(stored) : undefined;
    // Same user, same envelope: what the envelope says cannot differ (the user id is bound to it).
    if (seen && seen.userId === userId && seen.data === stored.data && seen.current.version === stored.version) return seen.current;
    let opened: ReturnType<typeof openRecord>;
    try {
      opened = openRecord(this.#s.keyring, this.#binding(userId), stored.data, this.#s.legacyRecords === 'migrate');
    } catch (err) {
      // Not deleted: the likely cause is a missing key in encryptionKeys, which a deploy can fix.
      throw new ReauthenticationRequiredError('The stored Fractal ID tokens do not decrypt with the configured encryptionKeys', err);
    }
    const { legacy, ...record } = opened;
    if (legacy) return { version: (await this.#migrate(userId, stored.version, record)) ?? stored.version, ...record };
    const current: Current = { version: stored.version, ...record };
    if (!cached) return current;
    // Shared by the requests that get the same cached reply: frozen, so none can change it for the others.
    this.#opened.set(stored, { userId, data: stored.data, current: freezeRecord(current) });
    return current;
  }

  /**
   * The token set when it is known at once to be fresh: the store's cached copy, already
   * decrypted by an earlier `read(userId, true)`, valid for longer than the skew. `undefined`
   * whenever deciding needs I/O, a decryption or a refresh: then `getTokenSet` does it.
   */
  peekFresh(userId: string): FractalTokenSet | undefined {
    let stored: StoredTokens | null | undefined;
    try {
      stored = this.#s.store.peekCached?.(userId);
    } catch {
      // A custom store's bug costs the shortcut only: `getTokenSet` reports whatever is wrong.
      return undefined;
    }
    if (!stored) return undefined;
    const seen = this.#opened.get(stored);
    if (!seen || seen.userId !== userId || seen.data !== stored.data || seen.current.version !== stored.version) return undefined;
    return this.#fresh(seen.current, undefined) ? seen.current.tokenSet : undefined;
  }

  /**
   * Rewrites a format-1 record in the current format, under the refresh lock and fenced by its
   * version, so that it is read in the old format once. Best effort: when the lock is taken (a
   * refresh is running and writes the new format anyway) or the store fails, the next read tries again.
   */
  async #migrate(userId: string, version: number, record: VaultRecord): Promise<number | null> {
    const { store, keyring, lockTtlMs } = this.#s;
    try {
      const lock = await store.acquireLock(userId, lockTtlMs);
      if (!lock) return null;
      try {
        const data = sealRecord(keyring, this.#binding(userId), record);
        return await store.compareAndSet(userId, version, data, this.#ttlFor(record.tokenSet, Date.now()), lock);
      } finally {
        await store.releaseLock(userId, lock).catch(() => undefined);
      }
    } catch {
      return null;
    }
  }

  #binding(userId: string): { clientID: string; userId: string } {
    return { clientID: this.#s.clientID, userId };
  }

  /** Saves a token set from a sign-in (unconditional: a newer grant replaces whatever was stored). */
  async save(userId: string, tokenSet: FractalTokenSet): Promise<void> {
    const obtainedAt = Date.now();
    await this.#s.store.set(userId, sealRecord(this.#s.keyring, this.#binding(userId), { tokenSet, obtainedAt }), this.#ttlFor(tokenSet, obtainedAt));
  }

  /**
   * A token set whose access token is valid for at least the refresh skew, refreshing if needed.
   * `rejectedAccessToken`: the resource server refused this token (401); refresh unless the
   * stored one already differs.
   *
   * @throws ReauthenticationRequiredError no tokens, or the grant is gone (tokens deleted).
   * @throws StoreUnavailableError the store did not answer.
   * @throws ProviderError / TokenError the token endpoint kept failing.
   */
  async getTokenSet(userId: string, rejectedAccessToken?: string): Promise<FractalTokenSet> {
    // Only to see whether the token is fresh: #refresh reads again, uncached, before it acts.
    const current = await this.read(userId, true);
    if (!current) throw noTokens();
    if (this.#fresh(current, rejectedAccessToken)) return current.tokenSet;
    const running = this.#flights.get(userId);
    if (running) return running;
    const flight = this.#refresh(userId, current, rejectedAccessToken).finally(() => this.#flights.delete(userId));
    this.#flights.set(userId, flight);
    return flight;
  }

  async #refresh(userId: string, seen: Current, rejected: string | undefined): Promise<FractalTokenSet> {
    const { store, lockTtlMs, waitTimeoutMs } = this.#s;
    const deadline = Date.now() + waitTimeoutMs;
    let stale = seen;
    let rounds = 0;
    for (;;) {
      const lock = await store.acquireLock(userId, lockTtlMs);
      if (lock) {
        rounds++;
        try {
          const current = await this.read(userId);
          if (!current) throw noTokens();
          if (current.version !== stale.version && this.#usable(current, rejected)) return current.tokenSet;
          const backoffMs = await this.#backoffMs(userId);
          if (backoffMs > 0) {
            if (this.#usable(current, rejected)) return current.tokenSet;
            throw new RefreshThrottledError(backoffMs);
          }
          const written = await this.#refreshLocked(userId, current, lock, rejected);
          if (written) return written;
        } finally {
          await store.releaseLock(userId, lock).catch(() => undefined);
        }
      } else {
        const remaining = deadline - Date.now();
        if (remaining <= 0) {
          throw new ProviderError(ErrorCode.PROVIDER_TIMEOUT, 'token', `Another process did not finish refreshing the tokens within ${waitTimeoutMs} ms`);
        }
        await store.waitForChange(userId, stale.version, Math.min(remaining, lockTtlMs));
      }
      const current = await this.read(userId);
      if (!current) throw noTokens('The Fractal ID tokens were deleted while refreshing (revoked grant or logout); sign in again');
      if (current.version !== stale.version && this.#usable(current, rejected)) return current.tokenSet;
      if (this.#fresh(current, rejected)) return current.tokenSet;
      if (rounds >= MAX_ROUNDS) {
        throw new ProviderError(ErrorCode.PROVIDER_UNAVAILABLE, 'token', `The token refresh did not complete after ${MAX_ROUNDS} rounds`);
      }
      stale = current;
    }
  }

  /**
   * Holding the lock: refresh at the provider, then write with fencing. `null` when the write lost.
   * After a failure (other than a revoked grant) the still-valid current set, if any.
   */
  async #refreshLocked(userId: string, current: Current, lock: string, rejected: string | undefined): Promise<FractalTokenSet | null> {
    const { store, keyring, tokenClient, retry, hooks } = this.#s;
    const refreshToken = current.tokenSet.refreshToken;
    if (refreshToken === undefined) {
      await store.delete(userId, current.version);
      if (channels.reauthentication.hasSubscribers) channels.reauthentication.publish({ userId, reason: 'no_refresh_token' });
      throw noTokens('The stored Fractal ID grant has no refresh token and its access token expired; sign in again');
    }
    let tokenSet: FractalTokenSet;
    const startedAt = performance.now();
    if (channels.refreshStart.hasSubscribers) channels.refreshStart.publish({ userId });
    try {
      ({ tokenSet } = await withRetry(retry, () => tokenClient.refresh(refreshToken, current.tokenSet.scopes)));
    } catch (err) {
      if (channels.refreshFailure.hasSubscribers) channels.refreshFailure.publish({ userId, durationMs: performance.now() - startedAt, code: codeOf(err) });
      if ((err as { code?: unknown } | null)?.code !== ErrorCode.INVALID_GRANT) {
        await this.#noteFailure(userId);
        // The access token we hold has not expired: a failed early refresh need not fail the request.
        if (this.#usable(current, rejected)) return current.tokenSet;
        throw err;
      }
      // Another process may have rotated in the meantime (our lock expired): then use its set.
      const after = await this.read(userId);
      if (after && after.version !== current.version) return null;
      // Still the refresh token that failed: the grant is gone. Delete, once, and stop.
      await store.delete(userId, current.version);
      if (channels.reauthentication.hasSubscribers) channels.reauthentication.publish({ userId, reason: 'grant_revoked' });
      throw new ReauthenticationRequiredError(undefined, err);
    }
    if (channels.refreshEnd.hasSubscribers) channels.refreshEnd.publish({ userId, durationMs: performance.now() - startedAt });
    await hooks?.afterTokenResponse?.();
    // RFC 6749 section 6: without a new refresh token, the old one stays valid.
    if (tokenSet.refreshToken === undefined) tokenSet = { ...tokenSet, refreshToken };
    const obtainedAt = Date.now();
    const data = sealRecord(keyring, this.#binding(userId), { tokenSet, obtainedAt });
    const version = await store.compareAndSet(userId, current.version, data, this.#ttlFor(tokenSet, obtainedAt), lock);
    // Lost the lock or the record changed: discard ours (never used, so harmless) and read theirs.
    return version === null ? null : tokenSet;
  }

  /** Ms until this user's refresh backoff ends; 0 when off, none, or the store cannot say (never blocks a refresh). */
  async #backoffMs(userId: string): Promise<number> {
    if (!this.#s.backoff || !this.#s.store.refreshBackoffMs) return 0;
    return this.#s.store.refreshBackoffMs(userId).catch(() => 0);
  }

  /** Best effort: a store that cannot record the failure must not hide the provider's error. */
  async #noteFailure(userId: string): Promise<void> {
    const { backoff, store } = this.#s;
    if (!backoff || !store.noteRefreshFailure) return;
    await store.noteRefreshFailure(userId, backoff).catch(() => undefined);
  }

  /** Valid for longer than the skew (capped at half the token's lifetime, so short tokens do not refresh on every call). */
  #fresh(record: Current, rejected: string | undefined): boolean {
    const lifetime = record.tokenSet.expiresAt - record.obtainedAt;
    const skew = Math.min(this.#s.refreshSkewMs, Math.max(0, lifetime / 2));
    return record.tokenSet.accessToken !== rejected && record.tokenSet.expiresAt - skew > Date.now();
  }

  /** Just written by someone else: good as long as it has not expired. */
  #usable(record: Current, rejected: string | undefined): boolean {
    return record.tokenSet.accessToken !== rejected && record.tokenSet.expiresAt > Date.now();
  }

  /** Until the refresh token can no longer be used; a set without one lives as long as its access token. */
  #ttlFor(tokenSet: FractalTokenSet, now: number): number {
    return tokenSet.refreshToken === undefined ? Math.max(1000, tokenSet.expiresAt - now) : this.#s.recordTtlMs;
  }
}

function noTokens(message = 'No Fractal ID tokens are stored for this user; sign in with Fractal ID'): ReauthenticationRequiredError {
  return new ReauthenticationRequiredError(message);
}

/** A decrypted record may be handed to several requests: nobody may change it under the others. */
function freezeRecord(current: Current): Current {
  Object.freeze(current.tokenSet.scopes);
  Object.freeze(current.tokenSet);
  return Object.freeze(current);
}
