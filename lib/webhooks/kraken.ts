import { hash } from 'node:crypto';
import { ConfigurationError } from '../errors';
import { WebhookError, WebhookErrorCode } from './errors';
import type { WebhookDeliveryInfo } from './events';
import { parseKrakenSignatureHeader, SecretSet, type WebhookSecret } from './signature';

/**
 * Kraken-format webhooks, from Fractal's migration guide (`migration-to-kraken.md`, "4. Webhooks"):
 * a JSON body `{ id, status, note }` (`id` is the user id, `status` one of approved, rejected,
 * pending, `note` e.g. a rejection reason), signed with HMAC-SHA256 of the raw body under the
 * "Webhook Secret Key", as bare lower-case hex in `X-Fractal-Signature`.
 *
 * The guide documents nothing more: no event type, no timestamp, no delivery id, no retry policy.
 * So these events are de-duplicated (by the body's SHA-256) but never ordered (`stale` is always
 * false) and not covered by the replay window: read the user's current status from Kraken's API
 * rather than trusting the order or age of these events. The guide's own sample code passes two
 * strings to `crypto.timingSafeEqual`, which throws; here the decoded digests are compared.
 */

/** The statuses the migration guide lists. */
export const KRAKEN_WEBHOOK_STATUSES = ['approved', 'rejected', 'pending'] as const;

export type KrakenWebhookStatus = (typeof KRAKEN_WEBHOOK_STATUSES)[number];

/** The body of a Kraken-format webhook. Fields the guide does not list are kept. */
export interface KrakenWebhookData {
  /** The user id (as returned by Kraken's session exchange). */
  id: string;
  /** `approved`, `rejected` or `pending`; another string when Kraken adds one (`known: false`). */
  status: KrakenWebhookStatus | (string & {});
  /** Free text, e.g. the rejection reason. Absent when not sent (or not a string). */
  note?: string;
  readonly [field: string]: unknown;
}

/** What `onEvent` receives with `format: 'kraken'`. */
export interface KrakenWebhookEvent extends WebhookDeliveryInfo {
  readonly format: 'kraken';
  /** True when `status` is one of {@link KRAKEN_WEBHOOK_STATUSES}. */
  readonly known: boolean;
  readonly data: KrakenWebhookData;
}

/** A Kraken-format delivery whose signature was checked and whose body was shape-checked. */
export interface VerifiedKrakenWebhook {
  data: KrakenWebhookData;
  known: boolean;
  /** Hex SHA-256 of the raw body: the idempotency key. */
  deliveryId: string;
}

/** @internal One or several secrets (rotation); Kraken issues a single one, not one per type. */
export function krakenSecretSet(secrets: WebhookSecret, owner: string): SecretSet {
  if (typeof secrets !== 'string' && !Array.isArray(secrets)) {
    throw new ConfigurationError(
      `${owner}: with format 'kraken', \`secrets\` is the Webhook Secret Key (a string) or several during a rotation (an array); Kraken has no per-type secrets`,
    );
  }
  return new SecretSet(secrets, owner, 'sha256');
}

/**
 * Verifies and parses one Kraken-format delivery, for apps that do not use the Express middleware.
 * Throws a {@link WebhookError} whose `code` and `status` say what to answer. As for the Fractal ID
 * format, the body is parsed only after the HMAC matched.
 */
export function verifyKrakenWebhook(rawBody: Uint8Array, signatureHeader: string | readonly string[] | undefined, secrets: WebhookSecret): VerifiedKrakenWebhook {
  return verifyKrakenWithSecretSet(rawBody, signatureHeader, krakenSecretSet(secrets, 'verifyKrakenWebhook'));
}

/** @internal */
export function verifyKrakenWithSecretSet(rawBody: Uint8Array, signatureHeader: string | readonly string[] | undefined, secrets: SecretSet): VerifiedKrakenWebhook {
  const digest = parseKrakenSignatureHeader(signatureHeader);
  if (secrets.matching(rawBody, digest).size === 0) {
    throw new WebhookError(WebhookErrorCode.INVALID_SIGNATURE, 'The signature matches none of the configured webhook secrets', {
      description: 'X-Fractal-Signature does not match the body',
    });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(rawBody.buffer, rawBody.byteOffset, rawBody.byteLength).toString('utf8'));
  } catch {
    throw new WebhookError(WebhookErrorCode.INVALID_JSON, 'The signed body is not valid JSON', { description: 'The body is not valid JSON' });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new WebhookError(WebhookErrorCode.INVALID_PAYLOAD, 'Signed body refused: not a JSON object', { description: 'The body must be a JSON object' });
  }
  const body = parsed as Record<string, unknown>;
  const missing = ['id', 'status'].filter((field) => typeof body[field] !== 'string' || body[field] === '');
  if (missing.length > 0) {
    const reason = `A Kraken webhook needs non-empty string fields: ${missing.join(', ')}`;
    throw new WebhookError(WebhookErrorCode.INVALID_EVENT, `Signed Kraken event refused: ${reason}`, { description: reason });
  }
  const { note, ...rest } = body;
  const data = { ...rest, ...(typeof note === 'string' ? { note } : {}) } as KrakenWebhookData;
  return {
    data,
    known: (KRAKEN_WEBHOOK_STATUSES as readonly string[]).includes(data.status),
    // One-shot hash: no Hash object per delivery (Node >= 20.12).
    deliveryId: hash('sha256', rawBody, 'hex'),
  };
}
