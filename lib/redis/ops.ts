import { createHash } from 'node:crypto';
import { StoreUnavailableError } from '../errors';
import { withoutCommandArgs } from './errors';
import { channels } from '../diagnostics';

/** The part of ioredis the stores use; the same on `Redis` and `Cluster`. */
export interface RedisCaller {
  readonly status: string;
  call(command: string, args: (string | number)[]): Promise<unknown>;
}

/**
 * An ioredis `Redis` or `Cluster` (ioredis 5 or 6) as the stores accept it: only the members they
 * use. Structural on purpose: ioredis 6 made `Redis` generic over its reply mapping
 * (`Redis<"legacy">` by default), so naming ioredis' classes in our options would refuse an ioredis 5
 * client and pin consumers to the copy we compiled against.
 */
export interface IORedisClient {
  readonly status: string;
  readonly isCluster: boolean;
  call(command: string, args: (string | number)[]): unknown;
  duplicate(...args: never[]): unknown;
}

/** A Lua script with its SHA-1, for EVALSHA. */
export interface RedisScript {
  readonly lua: string;
  readonly sha: string;
}

export function redisScript(lua: string): RedisScript {
  return { lua, sha: createHash('sha1').update(lua).digest('hex') };
}

/** ioredis statuses in which a command would wait in the offline queue or fail late. */
const DOWN_STATUSES = new Set(['reconnecting', 'close', 'end', 'disconnecting']);

/**
 * Runs one store operation with a hard deadline, whatever the client's options; every failure
 * becomes `StoreUnavailableError` (503 with Retry-After). ioredis queues commands while
 * disconnected and retries forever by default, which would hang the request that waits on it.
 */
export async function boundedRedisOperation<T>(
  client: RedisCaller,
  what: string,
  operation: () => Promise<T>,
  limits: { timeoutMs: number; retryAfter: number },
): Promise<T> {
  if (DOWN_STATUSES.has(client.status)) {
    if (channels.storeUnavailable.hasSubscribers) channels.storeUnavailable.publish({ operation: what, reason: `connection ${client.status}` });
    throw new StoreUnavailableError(`Could not ${what}: the Redis connection is ${client.status}`, undefined, limits.retryAfter);
  }
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${limits.timeoutMs} ms`)), limits.timeoutMs);
  });
  try {
    return await Promise.race([operation(), timeout]);
  } catch (err) {
    if (err instanceof StoreUnavailableError) throw err;
    if (channels.storeUnavailable.hasSubscribers) channels.storeUnavailable.publish({ operation: what, reason: err instanceof Error && err.message.startsWith('no answer within') ? 'timeout' : 'error' });
    // Never the ioredis error itself: it carries the command's arguments (sealed records, tokens).
    const clean = withoutCommandArgs(err);
    throw new StoreUnavailableError(`Could not ${what} in Redis (${clean.message})`, clean, limits.retryAfter);
  } finally {
    clearTimeout(timer);
  }
}

/** EVALSHA, falling back to EVAL once when the server does not have the script cached (NOSCRIPT). */
export async function evalScript(client: RedisCaller, script: RedisScript, keys: string[], args: (string | number)[]): Promise<unknown> {
  try {
    return await client.call('evalsha', [script.sha, keys.length, ...keys, ...args]);
  } catch (err) {
    if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
    return client.call('eval', [script.lua, keys.length, ...keys, ...args]);
  }
}
