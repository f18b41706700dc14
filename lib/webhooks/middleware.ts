import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';
import { ConfigurationError } from '../errors';
import { WebhookError, WebhookErrorCode } from './errors';
import type { FractalWebhookEvent, VerificationWebhookData } from './events';
import { isOrderedType, verificationOrderingKey } from './ordering';
import { RequestAbortedError, tooLarge } from './raw-body';
import { krakenSecretSet, verifyKrakenWithSecretSet, type KrakenWebhookEvent } from './kraken';
import { SecretSet, type WebhookSecret, type WebhookSecrets } from './signature';
import { DEFAULT_REPLAY_WINDOW_MS, MemoryWebhookStore, type WebhookStore } from './store';
import { checkReplayWindow, claimDelivery, completeDelivery, handleDelivery, readDelivery, RECEIVED, releaseDelivery, send, type VerifiedDelivery } from './steps';
import { verifyWithSecretSet } from './verify';
import { channels } from '../diagnostics';

/** Options shared by both webhook formats. */
export interface WebhooksCommonOptions {
  /**
   * Idempotency and ordering state. Default: a `MemoryWebhookStore` per middleware, correct for one
   * process. With several processes use `RedisWebhookStore`. `false`: no de-duplication and no
   * ordering (`stale` is always false).
   */
  store?: WebhookStore | false;
  /** Largest accepted body in bytes; larger ones get 413. Default 65 536 (64 KiB). */
  limit?: number;
  /**
   * Deadline for the whole body, from the moment the middleware starts reading it; a body still
   * incomplete then gets 408 and the connection is closed, so a client trickling bytes cannot hold
   * sockets open. Default 10 000 ms: the provider itself gives up on a delivery after 10 s
   * (provider docs, `user-integration/webhooks/delivery.md`). Does not apply when a body parser
   * read the body first (see `captureRawBody`); give the server a `requestTimeout` then.
   */
  readTimeoutMs?: number;
  /**
   * Security: events whose signed time (`data.timestamp`; `data.shared_at` of `credential_shared`)
   * is older than this are refused with 400 `event_too_old` and never reach `onEvent`, so that a
   * captured event replayed after the store forgot it is not handled again. Default 11 days, longer
   * than the provider's retry horizon (about 10.24 days, `user-integration/webhooks/delivery.md`),
   * so no genuine retry is refused. Must not exceed the store's `doneTtlMs` and `orderingTtlMs`
   * (checked when the store tells its TTLs). Events without a signed time (`email_changed`, unknown
   * types) are de-duplicated only. `false` turns the window off.
   */
  replayWindowMs?: number | false;
  /** The clock of the replay window, for tests. Default `Date.now`. */
  now?: () => number;
  /**
   * Called with every refused or failed delivery (the answer is already decided), for logging.
   * `err.code` is a {@link WebhookErrorCode}; `err.message` may name the type or secret entry involved
   * (never a secret or a signature); `err.cause` holds a handler's or Redis's error. Default: log
   * server-side failures (status >= 500) with `console.error`, ignore the rest (forged or broken
   * requests are internet noise).
   */
  onError?: (err: WebhookError, req: Request) => void;
}

/** Fractal ID webhooks (the default format): `sha1=` signatures, one secret per type, typed events. */
export interface FractalWebhooksOptions extends WebhooksCommonOptions {
  /**
   * Which webhooks this endpoint receives, set by you, never taken from the request: the default
   * `'fractal-id'` (HMAC-SHA1, `sha1=<hex>`), or `'kraken'` ({@link KrakenWebhooksOptions}).
   */
  format?: 'fractal-id';
  /**
   * The secret token(s) from the Fractal ID dashboard: one string for every type, an array while
   * rotating (any one verifies), or an object with one entry per notification type (`'*'` for the
   * rest). Keep them out of source control.
   *
   * Security: deliveries whose signature matches none of the secrets of their type never reach
   * `onEvent`.
   */
  secrets: WebhookSecrets;
  /**
   * Handles one verified event. The provider gets 2xx only once the returned promise resolved; if
   * it throws or rejects, the provider gets 500 and delivers the event again later. Must be
   * idempotent across processes unless `store` is shared (Redis), and should honour `event.stale`.
   */
  onEvent: (event: FractalWebhookEvent, req: Request) => void | PromiseLike<unknown>;
}

/**
 * Kraken-format webhooks (`migration-to-kraken.md`): HMAC-SHA256, bare hex, body `{id, status, note}`.
 * Only de-duplicated: they carry no timestamp, so neither ordering nor the replay window applies.
 */
export interface KrakenWebhooksOptions extends WebhooksCommonOptions {
  format: 'kraken';
  /** The Webhook Secret Key from Fractal's OPS, or several during a rotation (any one verifies). */
  secrets: WebhookSecret;
  /** As for the Fractal ID format: resolve to acknowledge, throw or reject to have it delivered again. */
  onEvent: (event: KrakenWebhookEvent, req: Request) => unknown;
}

/** The middleware, plus an error handler for apps whose global `express.json()` runs first. */
export type FractalWebhooksMiddleware = RequestHandler & {
  /**
   * Turns body-parser errors on the webhook route (malformed JSON, body over express.json's own
   * limit, unsupported charset) into this middleware's JSON answers instead of Express's default
   * HTML error page. Mount it on the same path, after the route:
   * `app.use('/webhooks/fractal', webhooks.errorHandler)`.
   */
  errorHandler: ErrorRequestHandler;
};

const DEFAULT_LIMIT = 64 * 1024;
/** The provider's own delivery timeout (`user-integration/webhooks/delivery.md`). */
const DEFAULT_READ_TIMEOUT_MS = 10_000;

/**
 * Express middleware receiving Fractal ID webhooks: `app.post('/webhooks/fractal', fractalWebhooks({...}))`.
 * Checks the HMAC-SHA1 signature over the raw bytes, parses and types the event, drops duplicates,
 * marks out-of-order events `stale`, and answers 2xx only after `onEvent` succeeded. Works in
 * Express 4 and 5, before or after a global `express.json()` (see `captureRawBody`).
 *
 * @see the README section "Webhooks" for the answers per situation.
 */
export function fractalWebhooks(options: FractalWebhooksOptions | KrakenWebhooksOptions): FractalWebhooksMiddleware {
  if (!options || typeof options !== 'object') {
    throw new ConfigurationError('fractalWebhooks needs options: { secrets, onEvent }');
  }
  const verify = verifierFor(options);
  if (typeof options.onEvent !== 'function') {
    throw new ConfigurationError('fractalWebhooks needs `onEvent`: a function handling each verified event');
  }
  const limit = options.limit ?? DEFAULT_LIMIT;
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new ConfigurationError('fractalWebhooks: `limit` must be a positive whole number of bytes');
  }
  const readTimeoutMs = options.readTimeoutMs ?? DEFAULT_READ_TIMEOUT_MS;
  if (!Number.isSafeInteger(readTimeoutMs) || readTimeoutMs < 1) {
    throw new ConfigurationError('fractalWebhooks: `readTimeoutMs` must be a positive whole number of milliseconds');
  }
  const store = options.store === false ? undefined : options.store ?? new MemoryWebhookStore();
  const replayWindowMs = resolveReplayWindow(options.replayWindowMs, store);
  const now = options.now ?? Date.now;
  const onEvent = options.onEvent as (event: FractalWebhookEvent | KrakenWebhookEvent, req: Request) => unknown;
  const report = (err: WebhookError, req: Request): void => {
    try {
      (options.onError ?? defaultOnError)(err, req);
    } catch {
      // A failing logger must not change the answer.
    }
  };

  /** read -> verify -> claim -> handle -> complete; every refusal is a thrown WebhookError. */
  const receive = async (req: Request, res: Response): Promise<void> => {
    const receivedAt = new Date();
    const reportHere = (err: WebhookError): void => report(err, req);
    try {
      const read = readDelivery(req, limit, readTimeoutMs);
      const raw = Buffer.isBuffer(read) ? read : await read;
      const delivery = verify(raw, req.headers['x-fractal-signature']);
      checkReplayWindow(delivery, replayWindowMs, now());
      const claim = await claimDelivery(store, delivery, reportHere);
      if (claim.state === 'duplicate') {
        if (channels.webhook.hasSubscribers) channels.webhook.publish({ outcome: 'duplicate', deliveryId: delivery.deliveryId, status: 200 });
        send(res, 200, { received: true, duplicate: true });
        return;
      }
      const event = delivery.event(claim.stale, receivedAt);
      const handling = handleDelivery(onEvent, event, req, () => releaseDelivery(store, delivery.deliveryId, claim, reportHere), delivery.label);
      if (handling !== undefined) await handling;
      // The answer does not wait for the done mark: its outcome cannot change the answer (the
      // event was handled), and a RedisWebhookStore sends it along with a later claim (one round
      // trip per delivery). Until it lands, a copy of this delivery gets 409 and is retried.
      const completed = completeDelivery(store, delivery.deliveryId, claim, reportHere);
      if (channels.webhook.hasSubscribers) channels.webhook.publish({ outcome: claim.stale ? 'stale' : 'accepted', type: (event as { type?: string }).type ?? 'kraken', deliveryId: delivery.deliveryId, status: 200 });
      send(res, 200, RECEIVED);
      await completed;
    } catch (err) {
      if (err instanceof RequestAbortedError) return;
      const failure = err instanceof WebhookError ? err : internalError(err);
      report(failure, req);
      if (channels.webhook.hasSubscribers) channels.webhook.publish({ outcome: 'rejected', status: failure.status, code: failure.code });
      answer(res, failure);
    }
  };

  const middleware = function fractalWebhooksMiddleware(req: Request, res: Response, _next: NextFunction): Promise<void> {
    return receive(req, res);
  } as FractalWebhooksMiddleware;

  middleware.errorHandler = function fractalWebhooksErrorHandler(err: unknown, req: Request, res: Response, next: NextFunction): void {
    const type = (err as { type?: unknown } | null)?.type;
    if (res.headersSent || typeof type !== 'string') {
      next(err);
      return;
    }
    if (type === 'entity.parse.failed') {
      // body-parser called captureRawBody before parsing: check the signature first, as always.
      void receive(req, res);
      return;
    }
    const failure =
      type === 'entity.too.large'
        ? tooLarge(limit)
        : type === 'charset.unsupported' || type === 'encoding.unsupported'
          ? new WebhookError(WebhookErrorCode.UNSUPPORTED_MEDIA_TYPE, `body-parser refused the body (${type})`, {
              description: 'Fractal ID webhooks are UTF-8 application/json without Content-Encoding',
            })
          : undefined;
    if (!failure) {
      next(err);
      return;
    }
    report(failure, req);
    if (channels.webhook.hasSubscribers) channels.webhook.publish({ outcome: 'rejected', status: failure.status, code: failure.code });
    answer(res, failure);
  };
  return middleware;
}

type Verifier = (raw: Buffer, header: string | string[] | undefined) => VerifiedDelivery<FractalWebhookEvent | KrakenWebhookEvent>;

/** The format comes from the configuration only: a request cannot pick the weaker check. */
function verifierFor(options: FractalWebhooksOptions | KrakenWebhooksOptions): Verifier {
  const format: unknown = options.format ?? 'fractal-id';
  if (format === 'kraken') {
    const secrets = krakenSecretSet((options as KrakenWebhooksOptions).secrets, 'fractalWebhooks');
    return (raw, header) => {
      const { data, known, deliveryId } = verifyKrakenWithSecretSet(raw, header, secrets);
      return {
        deliveryId,
        label: `Kraken delivery ${deliveryId}`,
        event: (stale, receivedAt) => ({ format: 'kraken', data, known, deliveryId, stale, receivedAt }),
      };
    };
  }
  if (format !== 'fractal-id') {
    throw new ConfigurationError("fractalWebhooks: `format` must be 'fractal-id' (the default) or 'kraken'");
  }
  const secrets = new SecretSet((options as FractalWebhooksOptions).secrets, 'fractalWebhooks');
  return (raw, header) => {
    const { payload, known, deliveryId, signedAtMs } = verifyWithSecretSet(raw, header, secrets);
    // A documented verification event has a string user_id, level and a parsed timestamp (checked).
    const data = payload.data as VerificationWebhookData;
    const ordering = known && signedAtMs !== undefined && isOrderedType(payload.type) ? { key: verificationOrderingKey(data.user_id, data.level), timestampMs: signedAtMs } : undefined;
    return {
      deliveryId,
      label: `${known ? payload.type : 'an unknown type'} delivery ${deliveryId}`,
      ...(signedAtMs === undefined ? {} : { signedAtMs }),
      ...(ordering ? { ordering } : {}),
      event: (stale, receivedAt) => ({ type: payload.type, data: payload.data, known, deliveryId, stale, receivedAt }) as FractalWebhookEvent,
    };
  };
}

function resolveReplayWindow(value: number | false | undefined, store: WebhookStore | undefined): number | false {
  const windowMs = value ?? DEFAULT_REPLAY_WINDOW_MS;
  if (windowMs === false) return false;
  if (!Number.isSafeInteger(windowMs) || windowMs < 1) {
    throw new ConfigurationError('fractalWebhooks: `replayWindowMs` must be a positive whole number of milliseconds, or false');
  }
  const ttls = store?.ttls;
  for (const name of ['doneTtlMs', 'orderingTtlMs'] as const) {
    if (ttls && ttls[name] < windowMs) {
      // Inside the window but after the store forgot: a replay would be handled again (done mark)
      // or not recognised as stale (ordering).
      throw new ConfigurationError(
        `fractalWebhooks: the store's \`${name}\` (${ttls[name]} ms) is shorter than \`replayWindowMs\` (${windowMs} ms); raise it or shorten the window`,
      );
    }
  }
  return windowMs;
}

function internalError(err: unknown): WebhookError {
  // Not expected: a bug here or in a custom store. Answered 500 without details; the cause is logged.
  return new WebhookError(WebhookErrorCode.HANDLER_FAILED, `Unexpected error while receiving a webhook: ${err instanceof Error ? err.message : String(err)}`, {
    description: 'The webhook could not be processed; it will be retried',
    cause: err,
  });
}

function answer(res: Response, err: WebhookError): void {
  if (res.headersSent) return;
  if (err.retryAfter !== undefined) res.setHeader('Retry-After', String(err.retryAfter));
  if (err.code === WebhookErrorCode.METHOD_NOT_ALLOWED) res.setHeader('Allow', 'POST');
  // After a 413 the rest of an oversized body is discarded, after a 408 the client is too slow to
  // wait for: Connection: close makes Node end and free the socket once the answer is written.
  if (err.code === WebhookErrorCode.PAYLOAD_TOO_LARGE || err.code === WebhookErrorCode.REQUEST_TIMEOUT) res.setHeader('Connection', 'close');
  send(res, err.status, err.toJSON());
}

function defaultOnError(err: WebhookError): void {
  if (err.status < 500) return;
  const cause = err.cause instanceof Error ? err.cause : undefined;
  console.error(`[passport-fractal-id] webhook ${err.code}: ${err.message}`, ...(cause ? [cause] : []));
}
