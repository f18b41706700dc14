import { VERIFICATION_WEBHOOK_TYPES, type FractalWebhookPayload, type VerificationWebhookData } from './events';
import type { OrderingStore } from './store';

/**
 * "Newest wins" per user and KYC level. The provider does not guarantee order and tells handlers to
 * compare `timestamp`s rather than trust arrival order (provider docs, "Webhooks"): a late
 * `verification_contacted` must not overwrite a newer `verification_approved`.
 *
 * Which events are ordered:
 * - `verification_approved|rejected|contacted`: by `data.timestamp`, per (`user_id`, `level`). All
 *   three share one key, since they are states of the same verification case.
 * - `credential_shared`: not ordered. Each share is its own fact (its own `credential_id`), not a
 *   new state of something an older share could overwrite.
 * - `email_changed`: not ordered; the provider sends no timestamp. If the current address matters,
 *   read it from `/v2/users/me` when the event arrives rather than trusting the event's order.
 * - unknown types: not ordered.
 * Unordered events are never stale.
 *
 * Equal timestamps are not stale: timestamps have one-second resolution in the provider's example,
 * so two events of the same second cannot be ordered, and both reach the handler. A retry of the
 * same event (same timestamp) is therefore not stale either.
 */

/** What {@link newestWins} found. */
export interface OrderingResult {
  /** False for events without an ordering (see above): they are never stale. */
  ordered: boolean;
  /** A newer event for the same user and level was seen before this one. */
  stale: boolean;
}

/** The ordering key and time of an event, or undefined for events that are not ordered. */
export function orderingOf(payload: FractalWebhookPayload): { key: string; timestampMs: number } | undefined {
  if (!isOrderedType(payload.type)) return undefined;
  const data = payload.data as Partial<VerificationWebhookData> | undefined;
  if (typeof data?.user_id !== 'string' || typeof data.level !== 'string' || typeof data.timestamp !== 'string') return undefined;
  const timestampMs = Date.parse(data.timestamp);
  if (Number.isNaN(timestampMs)) return undefined;
  return { key: verificationOrderingKey(data.user_id, data.level), timestampMs };
}

/**
 * @internal The ordering key of a verification event: the JSON of `['verification', userId, level]`,
 * so no separator character in an id can make two pairs collide (built without the array: the
 * same string, on every delivery's path). Stored keys depend on it: never change its form.
 */
export function verificationOrderingKey(userId: string, level: string): string {
  return `["verification",${JSON.stringify(userId)},${JSON.stringify(level)}]`;
}

const VERIFICATION_TYPES: ReadonlySet<string> = new Set(VERIFICATION_WEBHOOK_TYPES);

/** @internal Whether events of `type` are ordered "newest wins" (see above). */
export function isOrderedType(type: string): boolean {
  return VERIFICATION_TYPES.has(type);
}

/**
 * Records the event's timestamp and tells whether a newer one was seen for the same user and
 * level. The middleware calls this for you (`event.stale`); call it yourself when you verify
 * deliveries without the middleware (`verifyFractalWebhook`), with the same store in every process.
 */
export async function newestWins(store: OrderingStore, payload: FractalWebhookPayload): Promise<OrderingResult> {
  const ordering = orderingOf(payload);
  if (!ordering) return { ordered: false, stale: false };
  const newest = await store.keepNewest(ordering.key, ordering.timestampMs);
  return { ordered: true, stale: newest > ordering.timestampMs };
}
