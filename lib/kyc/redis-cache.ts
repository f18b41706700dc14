import { ConfigurationError } from '../errors';
import { deepFreeze, LocalRecordCache } from '../memory';
import { ChangeNotifications, escapeGlob, RedisAdapter, redisScript, type IORedisClient } from '../redis';
import { DEFAULT_TOKEN_CACHE_TTL_MS } from '../tokens';
import { resolveTtl, type KycCache, type KycCacheEntry, type KycCacheOptions, type KycCacheRead } from './cache';

export interface RedisKycCacheOptions extends KycCacheOptions {
  /**
   * An ioredis client or cluster, shared with the app if you like; never closed here. It runs on
   * request paths: create it with `enableOfflineQueue: false` and a `commandTimeout`.
   */
  client: IORedisClient;
  /** Prefix of every key and channel. Default `fractal:kyc:`. */
  prefix?: string;
  /** Upper bound on each operation. Default 2000 ms. */
  operationTimeoutMs?: number;
  /**
   * Keep entries read from Redis in this process for up to this many ms, so that a guarded request
   * of a warm user costs no Redis command. Every `invalidate()` publishes on the user's channel:
   * this process drops its copy at once, the others as fast as Redis delivers the message, and all
   * of them drop everything whenever their notification connection is not subscribed. So an
   * invalidation reaches every process within `localTtlMs` even when a message is lost (a
   * connection that did not drop). The first read opens that connection (unref'd: it never keeps
   * a process alive); `close()` ends it. At most 10 000 users are kept. Default 750 (the token
   * store's `cacheTtlMs`); 0 turns the layer off (one MGET per read, no connection of our own).
   */
  localTtlMs?: number;
}

/** How much longer than the TTL a generation is remembered: more than any provider read can take. */
const GENERATION_GRACE_MS = 60_000;
const LOCAL_MAX_ENTRIES = 10_000;
const CHANGED = ':changed';

/** Writes the entry only if the generation is still the one the caller read (`0` when none). */
const WRITE = redisScript(`
local generation = redis.call('GET', KEYS[2]) or '0'
if generation ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
`);

/**
 * Moves the generation on, drops the entry and tells every process, atomically: no process can
 * read the new generation before the message is on its way. ARGV: generation TTL, channel.
 */
const INVALIDATE = redisScript(`
local generation = redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[2], generation)
return 1
`);

interface Names {
  entry: string;
  generation: string;
  channel: string;
}

/**
 * The KYC cache in Redis, shared by every process: a webhook that lands on one process
 * invalidates the answer for all. Two keys per user, in one hash slot (`{userId}`), so it works on
 * a cluster too; the user's channel carries the same tag. A failing Redis rejects with
 * `store_unavailable` (503). Each process keeps what it read for up to `localTtlMs` (see there).
 */
export class RedisKycCache implements KycCache {
  readonly #redis: RedisAdapter;
  readonly #prefix: string;
  readonly #ttlMs: number;
  readonly #local: LocalRecordCache<KycCacheRead> | undefined;
  readonly #notifications: ChangeNotifications | undefined;
  #watched = false;

  constructor(options: RedisKycCacheOptions) {
    this.#redis = new RedisAdapter('RedisKycCache', options?.client, { operationTimeoutMs: options?.operationTimeoutMs ?? 2000, retryAfterSeconds: 1 });
    this.#prefix = options.prefix ?? 'fractal:kyc:';
    this.#ttlMs = resolveTtl(options.ttlMs);
    const localTtlMs = options.localTtlMs ?? DEFAULT_TOKEN_CACHE_TTL_MS;
    if (!Number.isFinite(localTtlMs) || localTtlMs < 0) throw new ConfigurationError('RedisKycCache `localTtlMs` must be 0 (off) or a positive number of ms');
    if (localTtlMs > 0) {
      this.#local = new LocalRecordCache({ ttlMs: localTtlMs, maxEntries: LOCAL_MAX_ENTRIES });
      this.#notifications = new ChangeNotifications(this.#redis.source);
    }
  }

  async read(userId: string): Promise<KycCacheRead> {
    const names = this.#names(userId);
    const local = this.#local;
    if (!local) return this.#readRedis(names);
    // The generation comes with the entry, as read from Redis: a write back under it is checked
    // there, so an invalidation this process has not heard of yet still wins.
    const hit = local.get(names.entry);
    if (hit) return hit;
    if (!this.#watched) this.#watch(local);
    const before = local.generation(names.entry);
    const read = await this.#readRedis(names);
    // Misses are not kept: the write that follows them must be seen by the next read.
    if (read.entry) local.keep(names.entry, before, read);
    return read;
  }

  peek(userId: string): KycCacheEntry | undefined {
    return this.#local?.get(this.#entryKey(userId))?.entry;
  }

  async write(userId: string, generation: string, entry: KycCacheEntry): Promise<void> {
    const names = this.#names(userId);
    const before = this.#local?.generation(names.entry);
    let stored = false;
    try {
      stored = Number(await this.#run('write the KYC cache', () =>
        this.#redis.eval(WRITE, [names.entry, names.generation], [generation, JSON.stringify(entry), this.#ttlMs]),
      )) === 1;
    } finally {
      // Refused, failed or timed out (it may have landed): whatever is kept here may be stale now.
      if (!stored) this.#local?.invalidate(names.entry);
    }
    // Kept only if no invalidation was heard since the write was sent; one that lands in Redis
    // after it publishes, and drops this copy when it arrives. A copy, frozen: the caller's stays theirs.
    if (stored && before !== undefined) this.#local?.keep(names.entry, before, { entry: deepFreeze(structuredClone(entry)), generation });
  }

  async invalidate(userId: string): Promise<void> {
    const names = this.#names(userId);
    // Before: no read from this process returns the old entry once invalidate() was called. After:
    // a read answered between the two (before the script ran) is not kept either.
    this.#local?.invalidate(names.entry);
    try {
      await this.#run('invalidate the KYC cache', () =>
        this.#redis.eval(INVALIDATE, [names.entry, names.generation], [this.#ttlMs + GENERATION_GRACE_MS, names.channel]),
      );
    } finally {
      this.#local?.invalidate(names.entry);
    }
  }

  /** Ends the notification connection and forgets the local entries (a later read opens it again). The client stays open. */
  async close(): Promise<void> {
    this.#notifications?.close();
    this.#watched = false;
    this.#local?.setDown();
  }

  async #readRedis(names: Names): Promise<KycCacheRead> {
    const values = await this.#run('read the KYC cache', () => this.#redis.call('mget', [names.entry, names.generation]));
    const [raw, generation] = Array.isArray(values) ? values : [];
    const entry = typeof raw === 'string' ? parseEntry(raw) : undefined;
    return { entry: entry && deepFreeze(entry), generation: typeof generation === 'string' ? generation : '0' };
  }

  /**
   * Every user's channel under the prefix, on one connection. Entries are kept only between a
   * confirmed subscription and the next sign of trouble on it (see `ChangeNotifications`).
   */
  #watch(local: LocalRecordCache<KycCacheRead>): void {
    this.#watched = true;
    this.#notifications?.watch(`${escapeGlob(this.#prefix)}{*}${CHANGED}`, {
      onMessage: (channel) => {
        if (channel.endsWith(CHANGED)) local.invalidate(channel.slice(0, -CHANGED.length));
      },
      onConfirmed: () => local.setLive(),
      onDown: () => local.setDown(),
    });
  }

  #entryKey(userId: string): string {
    return `${this.#prefix}{${userId}}`;
  }

  #names(userId: string): Names {
    const entry = this.#entryKey(userId);
    return { entry, generation: `${entry}:gen`, channel: `${entry}${CHANGED}` };
  }

  #run<T>(what: string, operation: () => Promise<T>): Promise<T> {
    return this.#redis.run(what, operation);
  }
}

/** A value someone else wrote under our key, or an older format, is a miss rather than an error. */
function parseEntry(raw: string): KycCacheEntry | undefined {
  try {
    const value = JSON.parse(raw) as Partial<KycCacheEntry> | null;
    if (!value || typeof value.scopes !== 'string' || !Array.isArray(value.cases) || typeof value.fetchedAt !== 'number') return undefined;
    return value as KycCacheEntry;
  } catch {
    return undefined;
  }
}
