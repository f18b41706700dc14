import type { Cluster, Redis } from 'ioredis';
import { ConfigurationError } from '../errors';
import { boundedRedisOperation, evalScript, type IORedisClient, type RedisCaller, type RedisScript } from './ops';

export interface RedisAdapterOptions {
  /** Upper bound on each operation, whatever the client's own options. */
  operationTimeoutMs: number;
  /** `Retry-After` seconds put on `StoreUnavailableError`. */
  retryAfterSeconds: number;
}

/**
 * What every Redis-backed store of this library does with its client, written once: commands and
 * EVALSHA scripts under a hard deadline, every failure a `StoreUnavailableError` (503 with
 * Retry-After) whose cause carries no command argument. Works on `Redis` and `Cluster` alike:
 * each store keeps the keys of one operation in one hash slot.
 */
export class RedisAdapter {
  /** The client as given (for notifications, which need their own connection). */
  readonly source: Redis | Cluster;
  readonly #client: RedisCaller;
  readonly #limits: { timeoutMs: number; retryAfter: number };

  constructor(store: string, client: IORedisClient | undefined, options: RedisAdapterOptions) {
    if (typeof (client as Partial<RedisCaller> | undefined)?.call !== 'function') {
      throw new ConfigurationError(`${store} needs \`client\`: an ioredis Redis or Cluster instance`);
    }
    for (const [name, value] of [['operationTimeoutMs', options.operationTimeoutMs], ['retryAfterSeconds', options.retryAfterSeconds]] as const) {
      if (!Number.isFinite(value) || value <= 0) throw new ConfigurationError(`${store} \`${name}\` must be a positive number`);
    }
    this.source = client as unknown as Redis | Cluster;
    this.#client = client as unknown as RedisCaller;
    this.#limits = { timeoutMs: options.operationTimeoutMs, retryAfter: options.retryAfterSeconds };
  }

  /** Runs one operation (any number of commands) with the deadline; `what` completes "Could not ...". */
  run<T>(what: string, operation: () => Promise<T>): Promise<T> {
    return boundedRedisOperation(this.#client, what, operation, this.#limits);
  }

  /** One command, to be used inside {@link run}. */
  call(command: string, args: (string | number)[]): Promise<unknown> {
    return this.#client.call(command, args);
  }

  /** One script (EVALSHA, EVAL on NOSCRIPT), to be used inside {@link run}. */
  eval(script: RedisScript, keys: string[], args: (string | number)[]): Promise<unknown> {
    return evalScript(this.#client, script, keys, args);
  }
}

/** A TTL in whole ms for PX/PEXPIRE, at least 1 (0 or a fraction would be an error or no expiry). */
export function pxTtl(ms: number): number {
  return Math.max(1, Math.ceil(ms));
}
