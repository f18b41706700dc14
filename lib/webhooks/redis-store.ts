import { hash } from 'node:crypto';
import { ConfigurationError } from '../errors';
import { RedisAdapter, redisScript, UncertainTokens, type IORedisClient } from '../redis';
import { batchArgs, CLAIM_BATCH, ClaimBatch, type BatchedClaimReply } from './claim-batch';
import { DoneMarkQueue } from './done-marks';
import { newClaimToken, resolveTtls, type DeliveryClaim, type OrderedDeliveryClaim, type ResolvedTtls, type WebhookStore, type WebhookStoreTtlOptions } from './store';

export interface RedisWebhookStoreOptions extends WebhookStoreTtlOptions {
  /**
   * An ioredis client or cluster, shared with the rest of the app if you like; the store never
   * closes it. Webhooks run on a request path: create it with `enableOfflineQueue: false`,
   * `maxRetriesPerRequest: 1` and a `commandTimeout`, or a Redis outage makes deliveries hang
   * (ioredis queues commands while disconnected) instead of being answered 503 and retried.
   */
  client: IORedisClient;
  /** Prefix of every key. Default `fractal:webhooks:`. */
  prefix?: string;
  /** Upper bound on each operation, whatever the client's options. Default 2000 ms. */
  operationTimeoutMs?: number;
  /** `Retry-After` seconds on `store_unavailable`. Default 1. */
  retryAfterSeconds?: number;
  /**
   * How long a done mark waits for a claim to carry it before it is sent on its own (see
   * `complete`). Under load the next claim comes much sooner; with no traffic the mark is sent
   * after this. Default 5 ms; 0 sends it in the next turn of the event loop. Shorter than
   * `processingTtlMs`.
   */
  doneMarkDelayMs?: number;
}

/**
 * Claims a free delivery for `ARGV[1]` (`p:<token>`) for `ARGV[2]` ms. Returns 1 when claimed,
 * 2 when done (`ARGV[3]`), 0 when another claim holds it. Finding its own token counts as claimed:
 * ioredis re-sends a command whose reply a dropped connection lost, and a plain `SET NX` re-sent
 * after it did run would find the claim it made and report it as someone else's, blocking every
 * copy of the delivery (409) until the claim expires.
 *
 * Used on a Cluster; on a standalone Redis claims go in batches (`claim-batch.ts`).
 */
const CLAIM = redisScript(`
local current = redis.call('GET', KEYS[1])
if not current then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if current == ARGV[1] then return 1 end
if current == ARGV[3] then return 2 end
return 0
`);


/** Deletes the claim only if it is still ours (it may have expired and been claimed again). */
const RELEASE = redisScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`);

/** Compare-and-set keeping the larger timestamp; atomic, so concurrent events cannot both win. */
const KEEP_NEWEST = redisScript(`
local current = tonumber(redis.call('GET', KEYS[1]))
local candidate = tonumber(ARGV[1])
if current == nil or candidate > current then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return ARGV[1]
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return redis.call('GET', KEYS[1])
`);

/**
 * CLAIM, then (if claimed) KEEP_NEWEST, in one script: one round trip for an ordered delivery.
 * KEYS[1] the delivery, KEYS[2] the newest time of its user and level; both carry the same hash
 * tag, so on Redis Cluster they live in one slot. ARGV as CLAIM, then ARGV[4] the event's time and
 * ARGV[5] orderingTtlMs. Returns {1, newest} when claimed, {2} done, {0} claimed by another. Running
 * it twice (a re-sent command) is harmless: the claim is recognised as ours and max() is idempotent.
 */
const CLAIM_ORDERED = redisScript(`
local current = redis.call('GET', KEYS[1])
if current and current ~= ARGV[1] then
  if current == ARGV[3] then return {2} end
  return {0}
end
if not current then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) end
local newest = tonumber(redis.call('GET', KEYS[2]))
if newest == nil or tonumber(ARGV[4]) > newest then
  redis.call('SET', KEYS[2], ARGV[4], 'PX', ARGV[5])
  return {1, ARGV[4]}
end
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return {1, tostring(newest)}
`);

/** See `doneMarkDelayMs`. */
const DEFAULT_DONE_MARK_DELAY_MS = 5;
const DONE = 'done';
/** The hash tag of an ordering key: hex, so it never contains braces. */
function tagOf(orderingKey: string): string {
  return hash('sha256', orderingKey, 'hex');
}


/**
 * Webhook delivery and ordering state in Redis (or Redis Cluster), shared by all processes of an
 * app. Keys: `<prefix>newest:{<h>}` with `h` the sha256 of [user_id, level] (no user id in key
 * names), `<prefix>delivery:{<h>}:<sha256 of the body>` for ordered (verification) events, so that
 * one script claims the delivery and records its time in one round trip, also on a Cluster (same
 * hash tag, same slot), and `<prefix>delivery:<sha256 of the body>` for the others. The tag of an
 * ordered claim travels in its token (`<uuid>.<h>`), so `complete` and `release` find the key.
 *
 * A claim sets `key` to `p:<token>` for processingTtlMs if it is absent, atomically: of two
 * concurrent copies of a delivery, exactly one gets it. Every failure (Redis down, timeout) is a
 * `store_unavailable` error, which the middleware answers 503 so that the provider retries.
 */
export class RedisWebhookStore implements WebhookStore {
  readonly #redis: RedisAdapter;
  readonly #prefix: string;
  readonly #ttls: ResolvedTtls;
  /**
   * Claims that failed without an answer (timeout, dropped connection): they may have landed in
   * Redis all the same. The next claim of that delivery in this process reuses the token, once, so
   * it recognises such a claim as its own instead of waiting processingTtlMs for it to expire.
   */
  readonly #uncertain = new UncertainTokens();
  /**
   * Done marks waiting for a ride (see `complete`). Not on a Cluster: a script's keys must share a
   * slot, and the marks of other deliveries almost never share the claim's.
   */
  readonly #marks: DoneMarkQueue;
  readonly #carryMarks: boolean;
  /** Standalone Redis: claims of one turn of the event loop go in one script (`claim-batch.ts`). */
  readonly #batch: ClaimBatch | undefined;

  constructor(options: RedisWebhookStoreOptions) {
    this.#redis = new RedisAdapter('RedisWebhookStore', options?.client, {
      operationTimeoutMs: options.operationTimeoutMs ?? 2000,
      retryAfterSeconds: options.retryAfterSeconds ?? 1,
    });
    this.#prefix = options.prefix ?? 'fractal:webhooks:';
    this.#ttls = resolveTtls(options, 'RedisWebhookStore');
    this.#carryMarks = options.client.isCluster !== true;
    const markDelayMs = options.doneMarkDelayMs ?? DEFAULT_DONE_MARK_DELAY_MS;
    if (!Number.isSafeInteger(markDelayMs) || markDelayMs < 0 || markDelayMs >= this.#ttls.processingTtlMs) {
      throw new ConfigurationError('RedisWebhookStore: `doneMarkDelayMs` must be a whole number of milliseconds, at least 0 and shorter than `processingTtlMs`');
    }
    this.#marks = new DoneMarkQueue(markDelayMs, () => void this.flush());
    this.#batch = this.#carryMarks
      ? new ClaimBatch({
          marks: this.#marks,
          ttls: this.#ttls,
          done: DONE,
          send: (keys, args) => this.#run('claim the webhook delivery', () => this.#eval(CLAIM_BATCH, keys, args)),
        })
      : undefined;
  }

  get ttls(): Readonly<ResolvedTtls> {
    return this.#ttls;
  }

  /** Key names, for tests and operations. */
  keys(): { delivery: (deliveryId: string, orderingKey?: string) => string; newest: (orderingKey: string) => string } {
    return {
      delivery: (deliveryId, orderingKey) =>
        orderingKey === undefined ? `${this.#prefix}delivery:${deliveryId}` : this.#deliveryKey(deliveryId, tagOf(orderingKey)),
      newest: (orderingKey) => `${this.#prefix}newest:{${tagOf(orderingKey)}}`,
    };
  }

  claimOrdered(deliveryId: string, orderingKey: string, timestampMs: number): Promise<OrderedDeliveryClaim> {
    const tag = tagOf(orderingKey);
    const keys = [this.#deliveryKey(deliveryId, tag), `${this.#prefix}newest:{${tag}}`] as const;
    const token = this.#uncertain.take(deliveryId) ?? `${newClaimToken()}.${tag}`;
    const claimed = this.#batch
      ? this.#batch.claim(keys[0], `p:${token}`, { key: keys[1], timeMs: timestampMs })
      : this.#run('claim the webhook delivery', async (): Promise<BatchedClaimReply> => {
          const args = [`p:${token}`, this.#ttls.processingTtlMs, DONE, Math.trunc(timestampMs), this.#ttls.orderingTtlMs];
          const reply = (await this.#eval(CLAIM_ORDERED, [...keys], args)) as [number, string?];
          return { state: Number(reply[0]), newest: Number(reply[1]) };
        });
    return claimed.then(
      ({ state, newest }): OrderedDeliveryClaim =>
        state === 1 ? { state: 'claimed', token, newest: newest ?? timestampMs } : state === 2 ? { state: 'done' } : { state: 'processing' },
      (err: unknown) => this.#uncertainClaim(deliveryId, token, err),
    );
  }

  claim(deliveryId: string): Promise<DeliveryClaim> {
    const key = this.keys().delivery(deliveryId);
    // Taken out of the map at once: of concurrent copies, only one can reuse it.
    const token = this.#uncertain.take(deliveryId) ?? newClaimToken();
    const claimed = this.#batch
      ? this.#batch.claim(key, `p:${token}`)
      : this.#run('claim the webhook delivery', async (): Promise<BatchedClaimReply> => ({
          state: Number(await this.#eval(CLAIM, [key], [`p:${token}`, this.#ttls.processingTtlMs, DONE])),
          newest: undefined,
        }));
    return claimed.then(
      ({ state }): DeliveryClaim => (state === 1 ? { state: 'claimed', token } : state === 2 ? { state: 'done' } : { state: 'processing' }),
      (err: unknown) => this.#uncertainClaim(deliveryId, token, err),
    );
  }

  /** A claim failed without an answer: it may have landed all the same (see `#uncertain`). */
  #uncertainClaim(deliveryId: string, token: string, err: unknown): never {
    // After processingTtlMs a claim that did land has expired: a fresh token is as good.
    this.#uncertain.remember(deliveryId, token, this.#ttls.processingTtlMs);
    throw err;
  }

  /**
   * Marks the delivery done. The mark is not sent at once: it rides along with the next claims this
   * process sends (within `doneMarkDelayMs`, else it is sent on its own, with any others waiting), so
   * that a delivery costs one Redis round trip instead of two. The promise settles when the mark
   * is in Redis. Until then the delivery still reads as claimed in other processes: a copy there
   * gets 409 (retried later), never a second run of the handler (a copy here carries the mark in
   * its own claim, so it reads as done). If this process dies first, the claim expires after
   * processingTtlMs and a later copy is handled again (at least once, never lost). On a Cluster
   * the mark is sent at once (other deliveries' keys are in other slots).
   */
  complete(deliveryId: string, token: string): Promise<void> {
    const key = this.#keyOfClaim(deliveryId, token);
    if (!this.#carryMarks) {
      return this.#run('mark the webhook delivery done', async () => {
        await this.#redis.call('set', [key, DONE, 'PX', this.#ttls.doneTtlMs]);
      });
    }
    return this.#marks.add(key);
  }

  /**
   * Sends the done marks still waiting (see `complete`) and resolves once they are in Redis. For a
   * graceful shutdown: call it before closing the Redis client.
   */
  async flush(): Promise<void> {
    const sends: Promise<unknown>[] = [];
    while (this.#marks.size > 0) {
      const marks = this.#marks.take();
      // The claims' own script with no claim in it: a different script could overtake a claim
      // sent after it (its EVALSHA answered NOSCRIPT and re-sent as EVAL while the claim's ran).
      const keys = marks.map((m) => m.key);
      const sent = this.#run('mark the webhook deliveries done', () => this.#eval(CLAIM_BATCH, keys, batchArgs(this.#ttls, DONE, keys.length)));
      sends.push(this.#marks.settle(marks, sent).catch(() => undefined));
    }
    await Promise.all(sends);
    // Marks that failed once are back in the queue (and have their timer) for a second try.
  }

  /**
   * For a graceful shutdown, before the Redis client is closed: sends the done marks still
   * waiting ({@link flush}). Never closes the client; the store stays usable.
   */
  close(): Promise<void> {
    return this.flush();
  }

  release(deliveryId: string, token: string): Promise<void> {
    const key = this.#keyOfClaim(deliveryId, token);
    return this.#run('release the webhook delivery', async () => {
      await this.#eval(RELEASE, [key], [`p:${token}`]);
    });
  }

  keepNewest(key: string, timestampMs: number): Promise<number> {
    const redisKey = this.keys().newest(key);
    return this.#run('record the event timestamp', async () =>
      Number(await this.#eval(KEEP_NEWEST, [redisKey], [Math.trunc(timestampMs), this.#ttls.orderingTtlMs])),
    );
  }

  #deliveryKey(deliveryId: string, tag: string): string {
    return `${this.#prefix}delivery:{${tag}}:${deliveryId}`;
  }

  /** The key a claim was made under: tagged when its token carries a tag (see `claimOrdered`). */
  #keyOfClaim(deliveryId: string, token: string): string {
    const dot = token.indexOf('.');
    return dot < 0 ? `${this.#prefix}delivery:${deliveryId}` : this.#deliveryKey(deliveryId, token.slice(dot + 1));
  }

  #run<T>(what: string, operation: () => Promise<T>): Promise<T> {
    return this.#redis.run(what, operation);
  }

  #eval(...args: Parameters<RedisAdapter['eval']>): Promise<unknown> {
    return this.#redis.eval(...args);
  }
}
