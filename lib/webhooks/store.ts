import { randomUUID } from 'node:crypto';
import { ConfigurationError } from '../errors';
import { HexDigestSet, StringKeyTable } from '../memory';
import { TurnAnswers } from './turn-answers';

/**
 * Idempotency and ordering state of webhook deliveries.
 *
 * The provider delivers at least once and in no guaranteed order (provider docs, "Webhooks"), and
 * sends no delivery id: the middleware uses the SHA-256 of the raw body, which a retry repeats.
 *
 * A delivery goes through: absent -> `processing` (claimed, short TTL, so a crashed process does
 * not block it forever) -> `done` (long TTL) when the handler succeeded, or back to absent when it
 * failed (so the provider's retry runs the handler again).
 */

/** The answer to {@link IdempotencyStore.claim}. */
export type DeliveryClaim =
  /** This caller owns the delivery; pass `token` to `complete` or `release`. */
  | { state: 'claimed'; token: string }
  /** Another request is handling the same delivery right now. */
  | { state: 'processing' }
  /** The delivery was handled successfully before. */
  | { state: 'done' };

export interface IdempotencyStore {
  /** Atomically claims `deliveryId` unless it is being processed or done. */
  claim(deliveryId: string): Promise<DeliveryClaim>;
  /** The handler succeeded: remember the delivery as done (even if the claim expired meanwhile). */
  complete(deliveryId: string, token: string): Promise<void>;
  /** The handler failed: drop the claim, if it is still ours, so a retry processes the delivery. */
  release(deliveryId: string, token: string): Promise<void>;
}

export interface OrderingStore {
  /**
   * Atomically keeps the larger of the stored value and `timestampMs` under `key`, and resolves to
   * the value kept (so the caller's event is stale when the result is larger than its timestamp).
   */
  keepNewest(key: string, timestampMs: number): Promise<number>;
}

/** The answer to {@link WebhookStore.claimOrdered}: a claim, plus the newest time kept when claimed. */
export type OrderedDeliveryClaim = { state: 'claimed'; token: string; newest: number } | { state: 'processing' } | { state: 'done' };

/** What `fractalWebhooks({ store })` needs: both idempotency and ordering. */
export interface WebhookStore extends IdempotencyStore, OrderingStore {
  /**
   * Optional: `claim` and, if claimed, `keepNewest`, in one atomic step (one Redis round trip
   * instead of two). The middleware uses it for ordered events when present.
   */
  claimOrdered?(deliveryId: string, orderingKey: string, timestampMs: number): Promise<OrderedDeliveryClaim>;
  /**
   * How long the store remembers, when it knows: the middleware then refuses at start-up a replay
   * window longer than what the store remembers (a replay inside the window but after the done
   * mark expired would be handled again).
   */
  readonly ttls?: Readonly<Required<WebhookStoreTtlOptions>>;
}

export interface WebhookStoreTtlOptions {
  /**
   * How long a claim lasts if its process dies mid-handler. While it lasts, copies of the delivery
   * are answered 409. Longer than your slowest handler. Default 60 000 ms.
   */
  processingTtlMs?: number;
  /**
   * How long a handled delivery is remembered. Must be at least the middleware's `replayWindowMs`:
   * a copy arriving after this is refused by the replay window if it carries a signed time, and
   * handled again if it does not (`email_changed`, Kraken-format events). Default 12 days: the
   * 11-day default window plus a day for the provider's clock running ahead of ours.
   */
  doneTtlMs?: number;
  /**
   * How long the newest timestamp per user and level is kept. An event older than the kept one
   * that arrives after this is no longer recognised as stale. Must be at least the middleware's
   * `replayWindowMs`, so that every event inside the window is compared. Default 30 days.
   */
  orderingTtlMs?: number;
}

/**
 * The provider's retry horizon: ten retries doubling from 20 s to 10,240 s (20,460 s in all), then
 * retries up to the 20th at most a day apart: 20,460 s + 10 x 86,400 s, about 10.24 days after the
 * event (provider docs, `user-integration/webhooks/delivery.md`, "Retrying sending notifications").
 */
export const PROVIDER_RETRY_HORIZON_MS = (20 * (2 ** 10 - 1) + 10 * 86_400) * 1000;

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Default replay window of the middleware: 11 days, the retry horizon rounded up (a retry made
 * 10.24 days after the event, answered within the provider's 10 s, is still inside it).
 */
export const DEFAULT_REPLAY_WINDOW_MS = 11 * DAY_MS;

/** The TTLs a webhook store resolved (see `ttls` on the stores). */
export interface ResolvedTtls {
  processingTtlMs: number;
  doneTtlMs: number;
  orderingTtlMs: number;
}

/** @internal */
export function resolveTtls(options: WebhookStoreTtlOptions, owner: string): ResolvedTtls {
  const ttls = {
    processingTtlMs: options.processingTtlMs ?? 60_000,
    doneTtlMs: options.doneTtlMs ?? 12 * DAY_MS,
    orderingTtlMs: options.orderingTtlMs ?? 30 * DAY_MS,
  };
  for (const [name, value] of Object.entries(ttls)) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new ConfigurationError(`${owner}: \`${name}\` must be a positive whole number of milliseconds`);
    }
  }
  return ttls;
}

/**
 * Claim tokens need to be unique, not secret: a token only tells this claim from another
 * process's claim of the same delivery (release and complete must not touch a claim that expired
 * and was taken again), and nothing outside the store ever sees one. So: 122 random bits drawn once
 * per process, then a counter, instead of a CSPRNG draw per delivery (a `randomUUID()` per claim was
 * 0.7 us of scenario 5's server profile).
 */
const TOKEN_BASE = randomUUID();
let tokenCounter = 0;

/** @internal A claim token: proves ownership when releasing (see TOKEN_BASE). */
export function newClaimToken(): string {
  return `${TOKEN_BASE}-${(tokenCounter++).toString(36)}`;
}

export interface MemoryWebhookStoreOptions extends WebhookStoreTtlOptions {
  /** The clock, for tests. Default `Date.now`. */
  now?: () => number;
}

const MIN_SWEEP_AT = 1024;

/**
 * Delivery and ordering state in this process's memory. Correct for a single process; with
 * several processes (cluster, several containers), duplicates reaching different processes are
 * each handled once per process, and ordering is per process: use `RedisWebhookStore` there.
 */
export class MemoryWebhookStore implements WebhookStore {
  readonly #ttls: ResolvedTtls;
  readonly #now: () => number;
  /**
   * Claims of deliveries being handled now: few and short-lived, so a plain Map, expired on read.
   * Claims of handlers that never finish are swept once the map reaches #sweepAt entries.
   */
  readonly #processing = new Map<string, { token: string; expiresAt: number }>();
  #sweepAt = MIN_SWEEP_AT;
  /**
   * Done marks, one per delivery, kept for days: the middleware's delivery ids (hex SHA-256) in
   * flat arrays (HexDigestSet: a lookup touches one or two cache lines, where a Map of ~100,000
   * strings costs several misses); any other id a caller passes, by its hash (StringKeyTable).
   */
  readonly #done: HexDigestSet;
  readonly #doneOther: StringKeyTable;
  /** Newest times, one per user and level, by the key's hash (StringKeyTable). */
  readonly #newest: StringKeyTable;
  /** Claim tokens only need to be unique in this process: a counter, not a UUID per delivery. */
  #claims = 0;
  readonly #answers = new TurnAnswers();

  constructor(options: MemoryWebhookStoreOptions = {}) {
    this.#ttls = resolveTtls(options, 'MemoryWebhookStore');
    const now = options.now ?? Date.now;
    this.#now = now;
    this.#done = new HexDigestSet(this.#ttls.doneTtlMs, { now });
    this.#doneOther = new StringKeyTable(this.#ttls.doneTtlMs, { now });
    this.#newest = new StringKeyTable(this.#ttls.orderingTtlMs, { now });
  }

  get ttls(): Readonly<ResolvedTtls> {
    return this.#ttls;
  }

  /** Decided at once (atomic), answered in the next turn of the event loop with the turn's other claims (see TurnAnswers). */
  async claim(deliveryId: string): Promise<DeliveryClaim> {
    return this.#answers.later(this.#claim(deliveryId));
  }

  /** Both steps at once, as `RedisWebhookStore` does: one await per delivery instead of two; answered as `claim` is. */
  async claimOrdered(deliveryId: string, orderingKey: string, timestampMs: number): Promise<OrderedDeliveryClaim> {
    const claim = this.#claim(deliveryId);
    return this.#answers.later(claim.state === 'claimed' ? { state: 'claimed', token: claim.token, newest: this.#keepNewest(orderingKey, timestampMs) } : claim);
  }

  async complete(deliveryId: string, _token: string): Promise<void> {
    // Done even if the claim expired meanwhile (the handler did run).
    this.#processing.delete(deliveryId);
    if (!this.#done.add(deliveryId)) this.#doneOther.set(deliveryId, 0);
  }

  async release(deliveryId: string, token: string): Promise<void> {
    if (this.#processing.get(deliveryId)?.token === token) this.#processing.delete(deliveryId);
  }

  async keepNewest(key: string, timestampMs: number): Promise<number> {
    return this.#keepNewest(key, timestampMs);
  }

  #claim(deliveryId: string): DeliveryClaim {
    if (this.#done.has(deliveryId) ?? this.#doneOther.get(deliveryId) !== undefined) return { state: 'done' };
    const now = this.#now();
    const current = this.#processing.get(deliveryId);
    if (current !== undefined && current.expiresAt > now) return { state: 'processing' };
    const token = `m${++this.#claims}`;
    this.#processing.set(deliveryId, { token, expiresAt: now + this.#ttls.processingTtlMs });
    if (this.#processing.size >= this.#sweepAt) this.#sweepClaims(now);
    return { state: 'claimed', token };
  }

  /** Drops expired claims; the next sweep waits until the map has doubled, so each claim is swept O(1) times. */
  #sweepClaims(now: number): void {
    for (const [id, claim] of this.#processing) if (claim.expiresAt <= now) this.#processing.delete(id);
    this.#sweepAt = Math.max(MIN_SWEEP_AT, this.#processing.size * 2);
  }

  #keepNewest(key: string, timestampMs: number): number {
    return this.#newest.keepMax(key, timestampMs);
  }

  /** Entries currently held (deliveries and ordering keys), expired ones included until swept. */
  get size(): number {
    return this.#processing.size + this.#done.size + this.#doneOther.size + this.#newest.size;
  }
}
