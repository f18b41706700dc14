import { hash } from 'node:crypto';
import { ConfigurationError } from '../errors';
import { RedisAdapter, redisScript, UncertainTokens, type IORedisClient } from '../redis';
import { batchArgs, CLAIM_BATCH, ClaimBatch } from './claim-batch';
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
  /**
   * On a Redis Cluster: how many hash tags (so, slots) the store's keys are spread over. A script's
   * keys must share a slot, so only claims and done marks under the same tag can travel in one
   * script: one tag batches the most, more tags spread the webhook state over more nodes but batch
   * less (bench scenario 5 on 3 masters: 0.14 commands per delivery with 1, 0.45 with 4). Default 1:
   * the state is small (a few hundred bytes per delivery for `doneTtlMs`), so one node holds it
   * easily. Ignored on a standalone Redis, where every claim of a turn goes in one script.
   */
  clusterSlots?: number;
  /**
   * While a claim script is in flight, new claims wait for its answer (at most 5 ms) and then go
   * together in one script, like a group commit: fewer scripts (bench scenario 5: 0.11 instead
   * of 0.15 per delivery) for a longer wait per delivery. Worth it when Redis's load matters more
   * than webhook latency. Default false: every turn of the event loop sends its claims at once.
   */
  groupCommit?: boolean;
}

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

/** See `doneMarkDelayMs`. */
const DEFAULT_DONE_MARK_DELAY_MS = 5;
/** See `clusterSlots`. */
const DEFAULT_CLUSTER_SLOTS = 1;
const DONE = 'done';

/** The sha256 of an ordering key: hex, so as a hash tag it never contains braces. */
function digestOf(orderingKey: string): string {
  return hash('sha256', orderingKey, 'hex');
}

/** Claims and done marks that may share a script: on a Cluster, the keys of one hash tag. */
interface Group {
  readonly marks: DoneMarkQueue;
  readonly batch: ClaimBatch;
}

/**
 * Webhook delivery and ordering state in Redis (or Redis Cluster), shared by all processes of an
 * app. No user id appears in key names: `h` below is the sha256 of [user_id, level], `id` the
 * sha256 of the body.
 * - Standalone Redis: `<prefix>newest:{h}`, `<prefix>delivery:{h}:<id>` for ordered (verification)
 *   events and `<prefix>delivery:<id>` for the others. Every claim of a turn of the event loop goes
 *   in one script (`claim-batch.ts`), with the done marks waiting.
 * - Redis Cluster: `<prefix>{g}:newest:h` and `<prefix>{g}:delivery:<id>`, with `g` one of
 *   `clusterSlots` hash tags (from `h` for ordered events, so that a delivery and its ordering key
 *   share a slot; from the id for the others). A script's keys must share a slot, so claims and
 *   marks are batched per tag.
 * The tag of a claim travels in its token (`<uuid>.<tag>`), so `complete` and `release` find the key.
 *
 * A claim sets the delivery key to `p:<token>` for processingTtlMs if it is absent, atomically: of
 * two concurrent copies of a delivery, exactly one gets it. Every failure (Redis down, timeout) is a
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
  /** Undefined on a standalone Redis (one group); on a Cluster, the number of hash tags. */
  readonly #clusterSlots: number | undefined;
  readonly #groups: readonly Group[];

  constructor(options: RedisWebhookStoreOptions) {
    this.#redis = new RedisAdapter('RedisWebhookStore', options?.client, {
      operationTimeoutMs: options.operationTimeoutMs ?? 2000,
      retryAfterSeconds: options.retryAfterSeconds ?? 1,
    });
    this.#prefix = options.prefix ?? 'fractal:webhooks:';
    this.#ttls = resolveTtls(options, 'RedisWebhookStore');
    const markDelayMs = options.doneMarkDelayMs ?? DEFAULT_DONE_MARK_DELAY_MS;
    if (!Number.isSafeInteger(markDelayMs) || markDelayMs < 0 || markDelayMs >= this.#ttls.processingTtlMs) {
      throw new ConfigurationError('RedisWebhookStore: `doneMarkDelayMs` must be a whole number of milliseconds, at least 0 and shorter than `processingTtlMs`');
    }
    const slots = options.clusterSlots ?? DEFAULT_CLUSTER_SLOTS;
    if (!Number.isSafeInteger(slots) || slots < 1 || slots > 1024) {
      throw new ConfigurationError('RedisWebhookStore: `clusterSlots` must be a whole number from 1 to 1024');
    }
    if (options.groupCommit !== undefined && typeof options.groupCommit !== 'boolean') {
      throw new ConfigurationError('RedisWebhookStore: `groupCommit` must be true or false');
    }
    const groupCommit = options.groupCommit === true;
    this.#clusterSlots = options.client.isCluster === true ? slots : undefined;
    this.#groups = Array.from({ length: this.#clusterSlots ?? 1 }, (): Group => {
      const marks: DoneMarkQueue = new DoneMarkQueue(markDelayMs, () => void this.#flushGroup(group));
      const batch = new ClaimBatch({
        marks,
        ttls: this.#ttls,
        done: DONE,
        groupCommit,
        send: (keys, args) => this.#run('claim the webhook delivery', () => this.#eval(CLAIM_BATCH, keys, args)),
      });
      const group: Group = { marks, batch };
      return group;
    });
  }

  get ttls(): Readonly<ResolvedTtls> {
    return this.#ttls;
  }

  /** Key names, for tests and operations. */
  keys(): { delivery: (deliveryId: string, orderingKey?: string) => string; newest: (orderingKey: string) => string } {
    return {
      delivery: (deliveryId, orderingKey) => this.#deliveryKey(deliveryId, this.#tagOf(deliveryId, orderingKey === undefined ? undefined : digestOf(orderingKey))),
      newest: (orderingKey) => this.#newestKey(digestOf(orderingKey)),
    };
  }

  claimOrdered(deliveryId: string, orderingKey: string, timestampMs: number): Promise<OrderedDeliveryClaim> {
    const digest = digestOf(orderingKey);
    const tag = this.#tagOf(deliveryId, digest);
    const token = this.#uncertain.take(deliveryId) ?? `${newClaimToken()}.${tag}`;
    return this.#groupOf(tag)
      .batch.claim(this.#deliveryKey(deliveryId, tag), `p:${token}`, { key: this.#newestKey(digest), timeMs: timestampMs })
      .then(
        ({ state, newest }): OrderedDeliveryClaim =>
          state === 1 ? { state: 'claimed', token, newest: newest ?? timestampMs } : state === 2 ? { state: 'done' } : { state: 'processing' },
        (err: unknown) => this.#uncertainClaim(deliveryId, token, err),
      );
  }

  claim(deliveryId: string): Promise<DeliveryClaim> {
    const tag = this.#tagOf(deliveryId, undefined);
    // Taken out of the map at once: of concurrent copies, only one can reuse it.
    const token = this.#uncertain.take(deliveryId) ?? (tag === undefined ? newClaimToken() : `${newClaimToken()}.${tag}`);
    return this.#groupOf(tag)
      .batch.claim(this.#deliveryKey(deliveryId, tag), `p:${token}`)
      .then(
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
   * process sends under the same tag (within `doneMarkDelayMs`, else it is sent on its own, with any
   * others waiting), so that a delivery costs one Redis round trip instead of two. The promise
   * settles when the mark is in Redis. Until then the delivery still reads as claimed in other
   * processes: a copy there gets 409 (retried later), never a second run of the handler (a copy
   * here carries the mark in its own claim, so it reads as done). If this process dies first, the
   * claim expires after processingTtlMs and a later copy is handled again (at least once, never lost).
   */
  complete(deliveryId: string, token: string): Promise<void> {
    const tag = tagOfToken(token);
    return this.#groupOf(tag).marks.add(this.#deliveryKey(deliveryId, tag));
  }

  /**
   * Sends the done marks still waiting (see `complete`) and resolves once they are in Redis. For a
   * graceful shutdown: call it before closing the Redis client.
   */
  async flush(): Promise<void> {
    await Promise.all(this.#groups.map((group) => this.#flushGroup(group)));
    // Marks that failed once are back in their queue (and have their timer) for a second try.
  }

  async #flushGroup(group: Group): Promise<void> {
    const sends: Promise<unknown>[] = [];
    while (group.marks.size > 0) {
      const marks = group.marks.take();
      // The claims' own script with no claim in it: a different script could overtake a claim
      // sent after it (its EVALSHA answered NOSCRIPT and re-sent as EVAL while the claim's ran).
      const keys = marks.map((m) => m.key);
      const sent = this.#run('mark the webhook deliveries done', () => this.#eval(CLAIM_BATCH, keys, batchArgs(this.#ttls, DONE, keys.length)));
      sends.push(group.marks.settle(marks, sent).catch(() => undefined));
    }
    await Promise.all(sends);
  }

  /**
   * For a graceful shutdown, before the Redis client is closed: sends the done marks still
   * waiting ({@link flush}). Never closes the client; the store stays usable.
   */
  close(): Promise<void> {
    return this.flush();
  }

  release(deliveryId: string, token: string): Promise<void> {
    const key = this.#deliveryKey(deliveryId, tagOfToken(token));
    return this.#run('release the webhook delivery', async () => {
      await this.#eval(RELEASE, [key], [`p:${token}`]);
    });
  }

  keepNewest(key: string, timestampMs: number): Promise<number> {
    const redisKey = this.#newestKey(digestOf(key));
    return this.#run('record the event timestamp', async () =>
      Number(await this.#eval(KEEP_NEWEST, [redisKey], [Math.trunc(timestampMs), this.#ttls.orderingTtlMs])),
    );
  }

  /**
   * The hash tag of a delivery's key: on a standalone Redis the ordering key's digest for an
   * ordered event (none for the others); on a Cluster one of `clusterSlots` tags, picked by the
   * ordering key's digest (so the delivery shares the slot of its ordering key) or by the id.
   */
  #tagOf(deliveryId: string, digest: string | undefined): string | undefined {
    if (this.#clusterSlots === undefined) return digest;
    if (this.#clusterSlots === 1) return '0';
    const hex = digest ?? hash('sha256', deliveryId, 'hex');
    return String(Number.parseInt(hex.slice(0, 8), 16) % this.#clusterSlots);
  }

  #groupOf(tag: string | undefined): Group {
    return this.#clusterSlots === undefined ? this.#groups[0] : this.#groups[Number(tag)];
  }

  #deliveryKey(deliveryId: string, tag: string | undefined): string {
    if (tag === undefined) return `${this.#prefix}delivery:${deliveryId}`;
    return this.#clusterSlots === undefined ? `${this.#prefix}delivery:{${tag}}:${deliveryId}` : `${this.#prefix}{${tag}}:delivery:${deliveryId}`;
  }

  #newestKey(digest: string): string {
    if (this.#clusterSlots === undefined) return `${this.#prefix}newest:{${digest}}`;
    return `${this.#prefix}{${this.#tagOf('', digest)}}:newest:${digest}`;
  }

  #run<T>(what: string, operation: () => Promise<T>): Promise<T> {
    return this.#redis.run(what, operation);
  }

  #eval(...args: Parameters<RedisAdapter['eval']>): Promise<unknown> {
    return this.#redis.eval(...args);
  }
}

/** The tag a claim's token carries after its dot (see `claimOrdered`), if any. */
function tagOfToken(token: string): string | undefined {
  const dot = token.indexOf('.');
  return dot < 0 ? undefined : token.slice(dot + 1);
}
