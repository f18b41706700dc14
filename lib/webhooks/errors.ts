import { ErrorCode } from '../errors';
import { FractalError } from '../errors';

/**
 * Every `code` a webhook answer or a {@link WebhookError} can carry. Stable: branch on them (and log
 * them); the HTTP answer to the provider is `{ error: <code>, error_description }`.
 */
export const WebhookErrorCode = {
  /** The webhook route was called with another method than POST (405). */
  METHOD_NOT_ALLOWED: 'method_not_allowed',
  /** Not `application/json` (or `+json`), a charset other than UTF-8, or a content coding (415). */
  UNSUPPORTED_MEDIA_TYPE: 'unsupported_media_type',
  /** The body is larger than the `limit` option (413). */
  PAYLOAD_TOO_LARGE: 'payload_too_large',
  /**
   * A body parser consumed the request before this middleware and did not keep the raw bytes, so
   * the signature cannot be checked (503: nothing was processed; the provider retries once the app
   * is fixed). The message says how to fix the set-up.
   */
  RAW_BODY_UNAVAILABLE: 'raw_body_unavailable',
  /** No `X-Fractal-Signature` header (400). */
  MISSING_SIGNATURE: 'missing_signature',
  /** The header is not `sha1=<40 hex digits>` (400), or with `format: 'kraken'` not 64 hex digits. */
  MALFORMED_SIGNATURE: 'malformed_signature',
  /**
   * The header names another algorithm, e.g. `sha256=` (400): Fractal ID signs with HMAC-SHA1. With
   * `format: 'kraken'`, a `sha1=` header (the sender uses the other format).
   */
  UNSUPPORTED_SIGNATURE_ALGORITHM: 'unsupported_signature_algorithm',
  /** The HMAC matches no secret configured for the notification's type (400). */
  INVALID_SIGNATURE: 'invalid_signature',
  /** Correctly signed, but the body is not JSON (400). */
  INVALID_JSON: 'invalid_json',
  /** Correctly signed JSON that is not an object with a string `type` (400). */
  INVALID_PAYLOAD: 'invalid_payload',
  /**
   * Correctly signed event of a documented type whose `data` does not have the documented shape
   * (422). A retry will not fix it by itself, but keeping it non-2xx keeps the event in the
   * provider's retry queue until the app accepts the new shape: nothing is lost.
   */
  INVALID_EVENT: 'invalid_event',
  /**
   * Correctly signed, but its signed time (`data.timestamp`, or `data.shared_at` of
   * `credential_shared`) is older than the replay window (`replayWindowMs`, default 11 days, longer
   * than the provider's retry horizon): a captured event replayed after the de-duplication store
   * forgot it (400; the handler is not called). The provider itself has stopped retrying by then.
   */
  EVENT_TOO_OLD: 'event_too_old',
  /**
   * The body did not arrive within `readTimeoutMs` (default 10 s, the provider's own delivery
   * timeout): the connection is closed (408).
   */
  REQUEST_TIMEOUT: 'request_timeout',
  /** The same delivery is being handled right now by another request or process (409). */
  DELIVERY_IN_PROGRESS: 'delivery_in_progress',
  /** The webhook store (Redis) did not answer (503). The same value as `ErrorCode.STORE_UNAVAILABLE`. */
  STORE_UNAVAILABLE: ErrorCode.STORE_UNAVAILABLE,
  /** `onEvent` threw or rejected (500, no details in the answer). The provider retries. */
  HANDLER_FAILED: 'handler_failed',
} as const;

export type WebhookErrorCode = (typeof WebhookErrorCode)[keyof typeof WebhookErrorCode];


/**
 * A webhook delivery was refused or failed. `status` is the HTTP status the middleware answered
 * with; `description` is the text sent to the caller (never a secret, a signature or a handler's
 * error message); `message` may say more and is meant for your logs (`onError`).
 */
export class WebhookError extends FractalError {
  declare readonly code: WebhookErrorCode;
  /** Seconds sent in `Retry-After` (409 and 503 answers). */
  readonly retryAfter?: number;

  constructor(
    code: WebhookErrorCode,
    message: string,
    options: { description?: string; cause?: unknown; retryAfter?: number } = {},
  ) {
    super(code, message, {
      ...(options.description === undefined ? {} : { description: options.description }),
      ...(options.cause === undefined ? {} : { cause: options.cause }),
    });
    if (options.retryAfter !== undefined) this.retryAfter = options.retryAfter;
  }
}
