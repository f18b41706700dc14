import { checkRedisSettings, type VaultCheckWarning } from './check';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { ConfigurationError } from '../errors';
import { LocalRecordCache } from '../memory';
import { ChangeNotifications, escapeGlob, pxTtl as ttl, RedisAdapter, UncertainTokens, type RedisScript, type IORedisClient } from '../redis';
import { ACQUIRE_LOCK, COMPARE_AND_SET, DELETE, NOTE_REFRESH_FAILURE, PEEK, REFRESH_BACKOFF, RELEASE_LOCK, SET } from './redis-scripts';
import type { StoredTokens, TokenStore } from './store';

export interface RedisTokenStoreOptions {
  /**
   * An ioredis client or cluster, shared with the rest of the app if you like. The store never
   * closes it. Recommended for request paths: `enableOfflineQueue: false`, `maxRetriesPerRequest: 1`
   * and `commandTimeout` (see the README, "Multi-process deployments").
   */
  client: IORedisClient;
  /** Prefix of every key and channel. Must not contain `{` or `}` (hash tags). Default `fractal:`. */
  prefix?: string;
  /**
   * Upper bound on each store operation, whatever the client's own options, so that a Redis outage
   * turns into a `store_unavailable` error instead of a hanging request. Default 2000 ms.
   */
  operationTimeoutMs?: number;
  /** Fallback poll while waiting for another process's refresh (notifications are the main path). Default 500 ms. */
  pollIntervalMs?: number;
  /** How long the version of a deleted record is kept (fencing). Default 24 hours. */
  tombstoneTtlMs?: number;
  /**
   * Keyed hashing of user ids in key names (HMAC-SHA-256). Without it keys use SHA-256 of the id,
   * which hides the id but can be matched against a list of candidate ids (emails). Changing it
   * orphans every stored record (users sign in again).
   */
  idSecret?: string;
  /** `Retry-After` seconds put on `StoreUnavailableError`. Default 1. */
  retryAfterSeconds?: number;
  /**
   * Keep records read on the request path in this process for up to this many ms, so that a
   * request with a fresh token costs no Redis round trip. Entries are dropped on the change
   * notification every write publishes, on this process's own writes, and all at once whenever
   * the notification connection is not subscribed; so another process's refresh or logout reaches
   * this process as fast as its notification does, and `cacheTtlMs` bounds the rest (a
   * notification lost on a connection that did not drop). Refreshes and writes always read Redis
   * itself. Default {@link DEFAULT_TOKEN_CACHE_TTL_MS} (750 ms: a revocation reaches every process
   * within 1 s even then); 0 turns the cache off.
   */
  cacheTtlMs?: number;
  /** Records kept at most with `cacheTtlMs` (oldest dropped first). Default 10 000. */
  cacheMaxEntries?: number;
}

const SUBSCRIBE_WAIT_MS = 250;
/**
 * Issue 16: on by default, so that a request with a valid token costs no Redis round trip; short,
 * so that the worst case (a change notification silently lost) stays under one second.
 */
export const DEFAULT_TOKEN_CACHE_TTL_MS = 750;
/** Users whose key names are remembered; beyond, the memo starts over (hashing again is cheap, growing is not). */
const KEY_NAMES_KEPT = 10_000;

/**
 * Token records in Redis or Redis Cluster, shared by every process of an app. Keys hold no raw
 * user id, email or token: `<prefix>{<sha256(userId)>}:tokens` (encrypted record) and
 * `<prefix>{<sha256(userId)>}:lock` (refresh lock), `<prefix>{<sha256(userId)>}:backoff` (failed
 * refreshes); the hash tag puts them in one cluster slot.
 */
export class RedisTokenStore implements TokenStore {
  readonly #redis: RedisAdapter;
  readonly #notifications: ChangeNotifications;
  readonly #prefix: string;
  readonly #pollMs: number;
  readonly #tombstoneTtlMs: number;
  readonly #idSecret: string | undefined;
  readonly #cache: LocalRecordCache<StoredTokens | null> | undefined;
  /** Key names by user id (a bounded memo of `keysFor`). */
  readonly #keyNames = new Map<string, Readonly<{ tokens: string; lock: string; backoff: string; channel: string }>>();
  /** Cached-path reads in flight, by key, with the cache generation they started under. */
  readonly #cachedReads = new Map<string, { generation: number; read: Promise<StoredTokens | null> }>();
  #cacheWatched = false;
  /** Lock attempts that failed without an answer, by user id (see `acquireLock`). */
  readonly #uncertainLocks = new UncertainTokens();

  constructor(options: RedisTokenStoreOptions) {
    this.#redis = new RedisAdapter('RedisTokenStore', options?.client, {
      operationTimeoutMs: options.operationTimeoutMs ?? 2000,
      retryAfterSeconds: options.retryAfterSeconds ?? 1,
    });
    this.#notifications = new ChangeNotifications(this.#redis.source);
    const prefix = options.prefix ?? 'fractal:';
    if (/[{}]/.test(prefix)) {
      throw new ConfigurationError('RedisTokenStore `prefix` must not contain { or }: the store adds its own hash tag per user');
    }
    this.#prefix = prefix;
    this.#pollMs = options.pollIntervalMs ?? 500;
    this.#tombstoneTtlMs = options.tombstoneTtlMs ?? 24 * 60 * 60 * 1000;
    this.#idSecret = options.idSecret;
    const cacheTtlMs = options.cacheTtlMs ?? DEFAULT_TOKEN_CACHE_TTL_MS;
    if (!Number.isFinite(cacheTtlMs) || cacheTtlMs < 0) throw new ConfigurationError('RedisTokenStore `cacheTtlMs` must be 0 (off) or a positive number of ms');
    if (cacheTtlMs > 0) {
      this.#cache = new LocalRecordCache({ ttlMs: cacheTtlMs, maxEntries: Math.max(1, options.cacheMaxEntries ?? 10_000) });
    }
  }

  /** The key names of one user's record, lock and refresh backoff, and its channel (for tests and operations). */
  keysFor(userId: string): { tokens: string; lock: string; backoff: string; channel: string } {
    // Every request of a signed-in user needs them: hashed once per user (issue 16), not per request.
    const known = this.#keyNames.get(userId);
    if (known) return known;
    const hash = this.#idSecret === undefined
      ? createHash('sha256').update(userId, 'utf8').digest('hex')
      : createHmac('sha256', this.#idSecret).update(userId, 'utf8').digest('hex');
    const base = `${this.#prefix}{${hash}}`;
    const keys = Object.freeze({ tokens: `${base}:tokens`, lock: `${base}:lock`, backoff: `${base}:backoff`, channel: `${base}:changed` });
    if (this.#keyNames.size >= KEY_NAMES_KEPT) this.#keyNames.clear();
    this.#keyNames.set(userId, keys);
    return keys;
  }

  async get(userId: string, options?: { cached?: boolean }): Promise<StoredTokens | null> {
    const { tokens } = this.keysFor(userId);
    const cache = options?.cached ? this.#cache : undefined;
    if (!cache) return this.#read(tokens);
    const hit = cache.get(tokens);
    if (hit !== undefined) return hit;
    if (!this.#cacheWatched) this.#watchForCache();
    const generation = cache.generation(tokens);
    // When an entry expires, the concurrent requests of that user share one read, but only one
    // that started under the current generation: after a change (a notification, or a write of
    // this process) a new read is sent, so nobody gets what was read before it.
    const inFlight = this.#cachedReads.get(tokens);
    if (inFlight && inFlight.generation === generation) return inFlight.read;
    const read = this.#read(tokens).then((stored) => {
      cache.keep(tokens, generation, stored);
      return stored;
    });
    this.#cachedReads.set(tokens, { generation, read });
    const forget = (): void => {
      if (this.#cachedReads.get(tokens)?.read === read) this.#cachedReads.delete(tokens);
    };
    read.then(forget, forget);
    return read;
  }

  peekCached(userId: string): StoredTokens | null | undefined {
    return this.#cache?.get(this.keysFor(userId).tokens);
  }

  set(userId: string, data: string, ttlMs: number): Promise<number> {
    const { tokens, backoff, channel } = this.keysFor(userId);
    return this.#write(tokens, 'write the token record', async () => Number(await this.#eval(SET, [tokens, backoff], [data, ttl(ttlMs), channel])));
  }

  compareAndSet(userId: string, expectedVersion: number, data: string, ttlMs: number, lockToken: string): Promise<number | null> {
    const { tokens, lock, backoff, channel } = this.keysFor(userId);
    return this.#write(tokens, 'write the refreshed token record', async () => {
      const version = Number(await this.#eval(COMPARE_AND_SET, [tokens, lock, backoff], [expectedVersion, data, ttl(ttlMs), lockToken, channel]));
      return version > 0 ? version : null;
    });
  }

  delete(userId: string, expectedVersion?: number): Promise<boolean> {
    const { tokens, channel } = this.keysFor(userId);
    const expected = expectedVersion === undefined ? '' : expectedVersion;
    return this.#write(tokens, 'delete the token record', async () =>
      Number(await this.#eval(DELETE, [tokens], [expected, ttl(this.#tombstoneTtlMs), channel])) === 1,
    );
  }

  acquireLock(userId: string, ttlMs: number): Promise<string | null> {
    const { lock } = this.keysFor(userId);
    const token = this.#uncertainLocks.take(userId) ?? randomBytes(16).toString('base64url');
    return this.#run('take the refresh lock', async () =>
      Number(await this.#eval(ACQUIRE_LOCK, [lock], [token, ttl(ttlMs)])) === 1 ? token : null,
    ).catch((err: unknown) => {
      // The lock may have been taken all the same (lost reply): the next attempt here reuses the
      // token, so it recognises that lock as its own instead of waiting lockTtlMs for it.
      this.#uncertainLocks.remember(userId, token, ttlMs);
      throw err;
    });
  }

  releaseLock(userId: string, lockToken: string): Promise<boolean> {
    const { lock, channel } = this.keysFor(userId);
    return this.#run('release the refresh lock', async () => Number(await this.#eval(RELEASE_LOCK, [lock], [lockToken, channel])) === 1);
  }

  noteRefreshFailure(userId: string, backoff: { baseMs: number; maxMs: number }): Promise<number> {
    const key = this.keysFor(userId).backoff;
    return this.#run('record a failed refresh', async () =>
      Number(await this.#eval(NOTE_REFRESH_FAILURE, [key], [ttl(backoff.baseMs), ttl(backoff.maxMs)])),
    );
  }

  refreshBackoffMs(userId: string): Promise<number> {
    const key = this.keysFor(userId).backoff;
    return this.#run('read the refresh backoff', async () => Number(await this.#eval(REFRESH_BACKOFF, [key], [])));
  }

  async waitForChange(userId: string, knownVersion: number, timeoutMs: number): Promise<void> {
    const { tokens, lock, channel } = this.keysFor(userId);
    const deadline = Date.now() + timeoutMs;
    // A notification is only a hint to look again: on a Cluster, PUBLISH reaches the subscriber's
    // node over the cluster bus later, so a message from a write made before this wait can
    // arrive during it. Only what the record says ends the wait.
    let signalled = false;
    let pending: (() => void) | undefined;
    const wake = (): void => {
      signalled = true;
      pending?.();
    };
    const subscribed = this.#notifications.listen(channel, wake);
    try {
      // Subscribe before looking, so a change between the look and the wait is not missed.
      await raceTimeout(subscribed, Math.min(SUBSCRIBE_WAIT_MS, timeoutMs));
      for (;;) {
        signalled = false;
        const [version, locked] = (await this.#run('read the token record version', () =>
          this.#eval(PEEK, [tokens, lock], []),
        )) as [number, number];
        if (Number(version) !== knownVersion || Number(locked) === 0) return;
        const remaining = deadline - Date.now();
        if (remaining <= 0) return;
        if (!signalled) {
          await raceTimeout(
            new Promise<void>((resolve) => {
              pending = resolve;
            }),
            Math.min(this.#pollMs, remaining),
          );
        }
        pending = undefined;
      }
    } finally {
      this.#notifications.unlisten(channel, wake);
    }
  }

  /** `maxmemory-policy`, `save` and `appendonly` of every node (see `vault.check()`). */
  checkSettings(): Promise<VaultCheckWarning[]> {
    return checkRedisSettings(this.#redis.source);
  }

  async close(): Promise<void> {
    this.#notifications.close();
    this.#cacheWatched = false;
    this.#cache?.setDown();
  }

  #read(tokens: string): Promise<StoredTokens | null> {
    return this.#run('read the token record', async () => {
      const reply = (await this.#redis.call('hmget', [tokens, 'v', 'd'])) as [unknown, unknown];
      const data = reply[1];
      if (data === null || data === undefined) return null;
      return { version: Number(reply[0]), data: String(data) };
    });
  }

  /** A write, after which this process's cached copy is dropped at once (even when the write timed out: it may have landed). */
  async #write<T>(tokens: string, what: string, operation: () => Promise<T>): Promise<T> {
    try {
      return await this.#run(what, operation);
    } finally {
      this.#cache?.invalidate(tokens);
    }
  }

  /**
   * Watches every user's channel under the prefix, for the cache. The cache keeps results only
   * between a confirmed subscription and the next sign of trouble on that connection (see
   * `ChangeNotifications`: on a Cluster that includes the subscriber moving to another node).
   */
  #watchForCache(): void {
    const cache = this.#cache;
    if (!cache) return;
    this.#cacheWatched = true;
    this.#notifications.watch(`${escapeGlob(this.#prefix)}{*}:changed`, {
      onMessage: (channel) => {
        if (channel.endsWith(':changed')) cache.invalidate(`${channel.slice(0, -':changed'.length)}:tokens`);
      },
      onConfirmed: () => cache.setLive(),
      onDown: () => cache.setDown(),
    });
  }

  #run<T>(what: string, operation: () => Promise<T>): Promise<T> {
    return this.#redis.run(what, operation);
  }

  #eval(script: RedisScript, keys: string[], args: (string | number)[]): Promise<unknown> {
    return this.#redis.eval(script, keys, args);
  }
}

async function raceTimeout(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
