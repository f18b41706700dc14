import { RedisAdapter, redisScript, type IORedisClient } from '../redis';
import { resolveTtl, type KycCache, type KycCacheEntry, type KycCacheOptions, type KycCacheRead } from './cache';

export interface RedisKycCacheOptions extends KycCacheOptions {
  /**
   * An ioredis client or cluster, shared with the app if you like; never closed here. It runs on
   * request paths: create it with `enableOfflineQueue: false` and a `commandTimeout`.
   */
  client: IORedisClient;
  /** Prefix of every key. Default `fractal:kyc:`. */
  prefix?: string;
  /** Upper bound on each operation. Default 2000 ms. */
  operationTimeoutMs?: number;
}

/** How much longer than the TTL a generation is remembered: more than any provider read can take. */
const GENERATION_GRACE_MS = 60_000;

/** Writes the entry only if the generation is still the one the caller read (`0` when none). */
const WRITE = redisScript(`
local generation = redis.call('GET', KEYS[2]) or '0'
if generation ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
`);

/** Moves the generation on and drops the entry, atomically. */
const INVALIDATE = redisScript(`
redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[1])
return 1
`);

/**
 * The KYC cache in Redis, shared by every process: a webhook that lands on one process
 * invalidates the answer for all. Two keys per user, in one hash slot (`{userId}`), so it works on
 * a cluster too. A failing Redis rejects with `store_unavailable` (503).
 */
export class RedisKycCache implements KycCache {
  readonly #redis: RedisAdapter;
  readonly #prefix: string;
  readonly #ttlMs: number;

  constructor(options: RedisKycCacheOptions) {
    this.#redis = new RedisAdapter('RedisKycCache', options?.client, { operationTimeoutMs: options?.operationTimeoutMs ?? 2000, retryAfterSeconds: 1 });
    this.#prefix = options.prefix ?? 'fractal:kyc:';
    this.#ttlMs = resolveTtl(options.ttlMs);
  }

  async read(userId: string): Promise<KycCacheRead> {
    const [entryKey, generationKey] = this.#keys(userId);
    const values = await this.#run('read the KYC cache', () => this.#redis.call('mget', [entryKey, generationKey]));
    const [raw, generation] = Array.isArray(values) ? values : [];
    return { entry: typeof raw === 'string' ? parseEntry(raw) : undefined, generation: typeof generation === 'string' ? generation : '0' };
  }

  async write(userId: string, generation: string, entry: KycCacheEntry): Promise<void> {
    await this.#run('write the KYC cache', () => this.#redis.eval(WRITE, this.#keys(userId), [generation, JSON.stringify(entry), this.#ttlMs]));
  }

  async invalidate(userId: string): Promise<void> {
    await this.#run('invalidate the KYC cache', () => this.#redis.eval(INVALIDATE, this.#keys(userId), [this.#ttlMs + GENERATION_GRACE_MS]));
  }

  #keys(userId: string): [string, string] {
    const base = `${this.#prefix}{${userId}}`;
    return [base, `${base}:gen`];
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
