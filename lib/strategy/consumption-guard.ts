import { boundedRedisOperation, type RedisCaller } from '../redis';

/**
 * Claims a pending sign-in once, atomically, before its callback touches the session or the token
 * endpoint. Session stores hand each concurrent request its own copy of the session, so removing
 * the entry from one copy does not stop another request holding the same cookie: three concurrent
 * deliveries of one callback URL made three code exchanges, and the provider then revokes the
 * grant of a code used twice (RFC 6749 section 4.1.2), failing even the first sign-in.
 */
export interface ConsumptionGuard {
  /** True for the first claim of `key` within `ttlMs`, false for every later one. */
  claim(key: string, ttlMs: number): Promise<boolean>;
}

/** In-process claims: enough for one process; entries live as long as the state they guard. */
export class MemoryConsumptionGuard implements ConsumptionGuard {
  readonly #claims = new Map<string, number>();
  #nextSweep = 0;

  async claim(key: string, ttlMs: number): Promise<boolean> {
    const now = Date.now();
    this.#sweep(now);
    const until = this.#claims.get(key);
    if (until !== undefined && until > now) return false;
    this.#claims.set(key, now + ttlMs);
    return true;
  }

  /** At most once a second, so the map holds only claims whose state could still be presented. */
  #sweep(now: number): void {
    if (now < this.#nextSweep) return;
    this.#nextSweep = now + 1000;
    for (const [key, until] of this.#claims) if (until <= now) this.#claims.delete(key);
  }
}

export interface RedisConsumptionGuardOptions {
  /** The app's ioredis client (`Redis` or `Cluster`). */
  client: RedisCaller;
  /** Key prefix of the claim markers. Default `fractal:state:`. */
  prefix?: string;
  /** Deadline of the claim, in ms; past it the callback fails with 503 `store_unavailable`. Default 2000. */
  timeoutMs?: number;
}

/**
 * Claims shared by every process on one Redis: `SET key 1 PX ttl NX` on a digest of the state
 * (never the state itself), which succeeds for exactly one caller and expires with the state.
 */
export class RedisConsumptionGuard implements ConsumptionGuard {
  readonly #client: RedisCaller;
  readonly #prefix: string;
  readonly #timeoutMs: number;

  constructor(options: RedisConsumptionGuardOptions) {
    this.#client = options.client;
    this.#prefix = options.prefix ?? 'fractal:state:';
    this.#timeoutMs = options.timeoutMs ?? 2000;
  }

  async claim(key: string, ttlMs: number): Promise<boolean> {
    const px = Math.max(1, Math.ceil(ttlMs));
    const reply = await boundedRedisOperation(this.#client, 'claim the sign-in state', () => this.#client.call('set', [`${this.#prefix}${key}`, '1', 'PX', px, 'NX']), {
      timeoutMs: this.#timeoutMs,
      retryAfter: 1,
    });
    return reply === 'OK';
  }
}
