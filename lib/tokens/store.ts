import type { VaultCheckWarning } from './check';

/**
 * What a token store keeps for one user: an opaque, already encrypted blob and a version.
 *
 * The version increases by at least one on every write AND every delete (a delete leaves a small
 * tombstone holding only the version), so a version read once is never seen again for that user
 * while a refresh could still be in flight: it is the fencing token of {@link TokenStore.compareAndSet}.
 */
export interface StoredTokens {
  version: number;
  /** Encrypted token set (see `Keyring`). Stores never see plaintext tokens. */
  data: string;
}

/**
 * Storage for token records, per-user refresh locks and change notifications.
 *
 * Every method rejects with `StoreUnavailableError` (code `store_unavailable`) when the backend
 * cannot answer in time; none of them may hang a request. Implementations: `RedisTokenStore`
 * (several processes), `MemoryTokenStore` (one process). Both pass the same contract tests.
 */
export interface TokenStore {
  /**
   * The current record, or `null` when none is stored (never saved, deleted or expired).
   * `cached`: the caller accepts a copy from a store-level cache (`RedisTokenStore` with
   * `cacheTtlMs`), which may trail a change made elsewhere by the time its notification takes. The
   * vault asks for it only to decide whether the token it holds is fresh enough to hand out; every
   * read that leads to a refresh or a write is uncached.
   */
  get(userId: string, options?: { cached?: boolean }): Promise<StoredTokens | null>;

  /**
   * What `get(userId, { cached: true })` would resolve to right now, when a store-level cache
   * holds it: the same object for as long as the record is unchanged. `undefined` when the cache
   * cannot say (no copy, expired, off). Never does I/O. Optional: with it, a request whose token
   * is fresh is decided without I/O or a promise chain (issue 16).
   */
  peekCached?(userId: string): StoredTokens | null | undefined;

  /** Unconditional write (a sign-in). Renews the TTL. Resolves to the new version. */
  set(userId: string, data: string, ttlMs: number): Promise<number>;

  /**
   * Fenced write of a refreshed record: succeeds only if a record with `expectedVersion` is stored
   * AND `lockToken` still owns the user's refresh lock, so a holder that stalled past its lock
   * cannot overwrite a newer record. Renews the TTL. Resolves to the new version, or `null`.
   */
  compareAndSet(userId: string, expectedVersion: number, data: string, ttlMs: number, lockToken: string): Promise<number | null>;

  /**
   * Deletes the user's record (keeping only the version, briefly). With `expectedVersion`, only if
   * the stored record still has that version. Resolves to true when a record was deleted.
   */
  delete(userId: string, expectedVersion?: number): Promise<boolean>;

  /** Takes the user's refresh lock for `ttlMs`. Resolves to an owner token, or `null` when held. */
  acquireLock(userId: string, ttlMs: number): Promise<string | null>;

  /** Releases the lock if `lockToken` still owns it. Resolves to true when it did. */
  releaseLock(userId: string, lockToken: string): Promise<boolean>;

  /**
   * Resolves once the user's record version differs from `knownVersion` (0 when none is stored),
   * or the refresh lock is free, or `timeoutMs` passed; whichever comes first. Implementations
   * wake on a notification (Redis pub/sub, an in-process event) and may poll as a fallback.
   */
  waitForChange(userId: string, knownVersion: number, timeoutMs: number): Promise<void>;

  /**
   * Records a failed refresh attempt for the user and starts a backoff of
   * `min(maxMs, baseMs * 2^(failures - 1))`, counting the failures since the last successful write
   * (a failure more than `maxMs` after the previous backoff ended starts the count again). Resolves
   * to the backoff in ms. Every successful `set` or `compareAndSet` forgets the failures.
   *
   * Optional: without it (and {@link refreshBackoffMs}) the vault does not throttle refreshes.
   * Both built-in stores implement it, on one clock (Redis's own `TIME` for `RedisTokenStore`),
   * so that every process sees the same backoff.
   */
  noteRefreshFailure?(userId: string, backoff: { baseMs: number; maxMs: number }): Promise<number>;

  /** Milliseconds until the user's backoff ends; 0 when a refresh may be attempted now. */
  refreshBackoffMs?(userId: string): Promise<number>;

  /**
   * Backend settings that put stored grants at risk (eviction, persistence), for `vault.check()`.
   * Resolves (never rejects for a refused check); rejects only when the backend is unreachable.
   */
  checkSettings?(): Promise<VaultCheckWarning[]>;

  /** Releases resources the store created itself (never the client it was given). */
  close?(): Promise<void>;
}
