import type { Request, Response } from 'express';
import { WebhookError, WebhookErrorCode } from './errors';
import { bodyWasConsumed, capturedRawBody, checkContentType, readRawBody, tooLarge } from './raw-body';
import type { DeliveryClaim, OrderedDeliveryClaim, WebhookStore } from './store';

/**
 * The steps of one delivery, in the order the middleware runs them: read, verify, claim, handle,
 * complete. Each is a small function of its inputs (no middleware state), so each can be tested on
 * its own; `middleware.ts` only chains them and turns a thrown {@link WebhookError} into the answer.
 *
 * @internal
 */

/** What the verify step hands on: format-independent facts about one authentic delivery. */
export interface VerifiedDelivery<E> {
  /** The idempotency key. */
  deliveryId: string;
  /** Names the delivery in log messages (type and id; never a secret). */
  label: string;
  /** The signed time of the event (ms), for the replay window; undefined when it carries none. */
  signedAtMs?: number;
  /** Ordering key and signed time, for events ordered "newest wins"; undefined otherwise. */
  ordering?: { key: string; timestampMs: number };
  /** Builds the event handed to `onEvent`. */
  event(stale: boolean, receivedAt: Date): E;
}

/** The claim step's outcome. */
export type ClaimedDelivery =
  /** Handled before: answer 200 without calling the handler. */
  | { state: 'duplicate' }
  /** Ours to handle. `token` is undefined without a store. */
  | { state: 'claimed'; token: string | undefined; stale: boolean };

/**
 * 1. Read: the exact bytes the provider signed, within `limit` bytes and `timeoutMs`. Not `async`:
 * the bytes a body parser kept come back at once, and the stream's promise is handed on as is
 * instead of being wrapped in another one. Refusals are thrown.
 */
export function readDelivery(req: Request, limit: number, timeoutMs: number): Buffer | Promise<Buffer> {
  if (req.method !== 'POST') {
    throw new WebhookError(WebhookErrorCode.METHOD_NOT_ALLOWED, `Webhooks are POSTed; got ${req.method}`, {
      description: 'Use POST',
    });
  }
  checkContentType(req);
  const captured = capturedRawBody(req);
  if (captured !== undefined) {
    if (captured.length > limit) throw tooLarge(limit);
    return captured;
  }
  if (bodyWasConsumed(req)) throw rawBodyUnavailable();
  return readRawBody(req, limit, timeoutMs);
}

/**
 * 2b. Verify, continued: refuse an authentic event whose signed time is older than the replay
 * window. The idempotency store forgets a delivery after `doneTtlMs`; without this, a captured
 * event replayed later would be handled again. Events without a signed time pass (de-duplication
 * only). A time in the future is not refused: only the provider can sign one.
 */
export function checkReplayWindow(delivery: VerifiedDelivery<unknown>, windowMs: number | false, nowMs: number): void {
  if (windowMs === false || delivery.signedAtMs === undefined) return;
  const ageMs = nowMs - delivery.signedAtMs;
  if (ageMs > windowMs) {
    const days = (ageMs / 86_400_000).toFixed(1);
    throw new WebhookError(WebhookErrorCode.EVENT_TOO_OLD, `Delivery ${delivery.deliveryId} is an event ${days} days old, beyond the replay window of ${windowMs} ms`, {
      description: 'The event is older than the replay window',
    });
  }
}

/**
 * 3. Claim: take the delivery (or learn it is a duplicate), then record its ordering. A claim that
 * cannot record the ordering is released, so the provider's retry finds the delivery free.
 */
export async function claimDelivery(
  store: WebhookStore | undefined,
  delivery: VerifiedDelivery<unknown>,
  report: (err: WebhookError) => void,
): Promise<ClaimedDelivery> {
  if (!store) return { state: 'claimed', token: undefined, stale: false };
  const { deliveryId, ordering } = delivery;
  let claim: DeliveryClaim | OrderedDeliveryClaim;
  try {
    // One round trip for claim and ordering when the store can (RedisWebhookStore), else two.
    claim = ordering && store.claimOrdered ? await store.claimOrdered(deliveryId, ordering.key, ordering.timestampMs) : await store.claim(deliveryId);
  } catch (err) {
    throw storeError(err, 'claim the delivery');
  }
  if (claim.state === 'done') return { state: 'duplicate' };
  if (claim.state === 'processing') {
    throw new WebhookError(WebhookErrorCode.DELIVERY_IN_PROGRESS, `Delivery ${deliveryId} is being handled by another request`, {
      description: 'This delivery is being processed; retry later',
      retryAfter: 1,
    });
  }
  const token = claim.token;
  if (!ordering) return { state: 'claimed', token, stale: false };
  if ('newest' in claim && typeof claim.newest === 'number') return { state: 'claimed', token, stale: claim.newest > ordering.timestampMs };
  const claimed = { state: 'claimed' as const, token, stale: false };
  try {
    const newest = await store.keepNewest(ordering.key, ordering.timestampMs);
    return { state: 'claimed', token, stale: newest > ordering.timestampMs };
  } catch (err) {
    await releaseDelivery(store, deliveryId, claimed, report);
    throw storeError(err, 'record the event timestamp');
  }
}

/**
 * 4. Handle: run `onEvent`; on failure release the claim so that the provider's retry runs it again.
 * A handler that returns no promise is not awaited: `undefined` when it finished, a promise only
 * for one that did not (or threw).
 */
export function handleDelivery<E>(
  onEvent: (event: E, req: Request) => unknown,
  event: E,
  req: Request,
  release: () => Promise<void>,
  label: string,
): Promise<void> | undefined {
  let result: unknown;
  try {
    result = onEvent(event, req);
    if (typeof (result as PromiseLike<unknown> | null)?.then !== 'function') return undefined;
  } catch (err) {
    // Also a `then` getter that throws: the claim is released as for any failure.
    return handlerFailed(err, release, label);
  }
  return Promise.resolve(result).then(
    () => undefined,
    (err: unknown) => handlerFailed(err, release, label),
  );
}

async function handlerFailed(err: unknown, release: () => Promise<void>, label: string): Promise<never> {
  await release();
  throw new WebhookError(WebhookErrorCode.HANDLER_FAILED, `onEvent failed for ${label}`, {
    description: 'The webhook handler failed; the delivery will be retried',
    cause: err,
  });
}

/**
 * 5. Complete: mark the delivery done. A failure is reported, never answered: the event WAS
 * handled, and a non-2xx answer would make the provider deliver it again.
 */
export async function completeDelivery(
  store: WebhookStore | undefined,
  deliveryId: string,
  claim: ClaimedDelivery,
  report: (err: WebhookError) => void,
): Promise<void> {
  if (!store || claim.state !== 'claimed' || claim.token === undefined) return;
  try {
    await store.complete(deliveryId, claim.token);
  } catch (err) {
    report(storeError(err, 'mark the delivery done'));
  }
}

/** Drops our claim after a failure; if that fails too, the claim expires after processingTtlMs. */
export async function releaseDelivery(
  store: WebhookStore | undefined,
  deliveryId: string,
  claim: ClaimedDelivery,
  report: (err: WebhookError) => void,
): Promise<void> {
  if (!store || claim.state !== 'claimed' || claim.token === undefined) return;
  try {
    await store.release(deliveryId, claim.token);
  } catch (err) {
    // Until the claim expires, retries get 409.
    report(storeError(err, 'release the claim'));
  }
}

function rawBodyUnavailable(): WebhookError {
  const fix =
    'A body parser read this request before fractalWebhooks and did not keep the raw bytes, so the signature cannot be checked. ' +
    'Mount the webhook route before app.use(express.json()), or use app.use(express.json({ verify: captureRawBody })).';
  return new WebhookError(WebhookErrorCode.RAW_BODY_UNAVAILABLE, fix, { description: fix, retryAfter: 60 });
}

export function storeError(err: unknown, what: string): WebhookError {
  const retryAfter = (err as { retryAfter?: unknown } | null)?.retryAfter;
  return new WebhookError(WebhookErrorCode.STORE_UNAVAILABLE, `The webhook store failed to ${what}: ${err instanceof Error ? err.message : String(err)}`, {
    description: 'The webhook store is unavailable; retry later',
    retryAfter: typeof retryAfter === 'number' ? retryAfter : 1,
    cause: err,
  });
}

/** Plain Node response calls, so the middleware behaves the same in Express 4 and 5. */
export function send(res: Response, status: number, body: object): void {
  if (res.headersSent) return;
  const json = body === RECEIVED ? RECEIVED_JSON : JSON.stringify(body);
  // One writeHead with the headers (merged with any set before, such as Retry-After) instead of a
  // setHeader call each: this answer is on every delivery's path.
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(json),
    'Cache-Control': 'no-store',
  });
  res.end(json);
}

/** The answer to an accepted delivery, serialised once. */
export const RECEIVED = Object.freeze({ received: true });
const RECEIVED_JSON = JSON.stringify(RECEIVED);
