import { hash } from 'node:crypto';
import { WebhookError, WebhookErrorCode } from './errors';
import { checkPayload, type FractalWebhookPayload } from './events';
import { parseSignatureHeader, SecretSet, type WebhookSecrets } from './signature';

/** A delivery whose signature was checked and whose body was parsed and shape-checked. */
export interface VerifiedWebhook {
  /** The parsed body. For documented types (`known`), `data` has the documented shape. */
  payload: FractalWebhookPayload;
  /** True for the documented types. */
  known: boolean;
  /** Hex SHA-256 of the raw body: the idempotency key (the provider sends no delivery id). */
  deliveryId: string;
}

/**
 * Verifies and parses one delivery, for apps that do not use the Express middleware (serverless
 * functions, queues). Throws a {@link WebhookError} whose `code` and `status` say what to answer.
 *
 * Order of checks, chosen so that unauthenticated bytes are never parsed:
 * 1. the header must be `sha1=<40 hex>`;
 * 2. the HMAC-SHA1 of the raw bytes must match at least one configured secret (constant time);
 * 3. only then is the body parsed as JSON, and the matching secret must be one configured for the
 *    body's `type` (a body signed with `email_changed`'s secret cannot pass as `verification_approved`);
 * 4. documented types must have the documented `data` shape.
 *
 * `rawBody` must be the exact bytes received: never `JSON.stringify(req.body)`, whose bytes differ
 * (key order, spacing, escapes) and which would also sign whatever a parser made of the input.
 */
export function verifyFractalWebhook(
  rawBody: Uint8Array,
  signatureHeader: string | readonly string[] | undefined,
  secrets: WebhookSecrets,
): VerifiedWebhook {
  const { payload, known, deliveryId } = verifyWithSecretSet(rawBody, signatureHeader, new SecretSet(secrets, 'verifyFractalWebhook'));
  return { payload, known, deliveryId };
}

/** @internal What the middleware also needs: the signed time, parsed once by the payload check. */
export interface VerifiedWebhookWithTime extends VerifiedWebhook {
  signedAtMs: number | undefined;
}

/** @internal The middleware compiles the secrets once and calls this per request. */
export function verifyWithSecretSet(
  rawBody: Uint8Array,
  signatureHeader: string | readonly string[] | undefined,
  secrets: SecretSet,
): VerifiedWebhookWithTime {
  const digest = parseSignatureHeader(signatureHeader);
  const matched = secrets.matching(rawBody, digest);
  if (matched.size === 0) {
    throw invalidSignature('The signature matches none of the configured webhook secrets');
  }

  let parsed: unknown;
  try {
    parsed = JSON.parse((Buffer.isBuffer(rawBody) ? rawBody : Buffer.from(rawBody.buffer, rawBody.byteOffset, rawBody.byteLength)).toString('utf8'));
  } catch {
    throw new WebhookError(WebhookErrorCode.INVALID_JSON, 'The signed body is not valid JSON', {
      description: 'The body is not valid JSON',
    });
  }
  const check = checkPayload(parsed);
  if (!check.ok && check.kind === 'payload') {
    throw new WebhookError(WebhookErrorCode.INVALID_PAYLOAD, `Signed body refused: ${check.reason}`, { description: check.reason });
  }
  // The type is trusted only now, and only to pick which secrets may have signed it.
  const type = check.ok ? check.payload.type : (parsed as { type: string }).type;
  if (!secrets.for(type).some((secret) => matched.has(secret))) {
    const others = secrets.typesSignedBy(matched);
    const hint = secrets.for(type).length === 0
      ? `no secret is configured for type ${quote(type)} (add it, or a '*' entry, to \`secrets\`)`
      : others.length > 0
        ? `it was signed with the secret of ${others.join(', ')}`
        : 'it was signed with another type\'s secret';
    throw invalidSignature(`The signature does not match the secret of ${quote(type)}: ${hint}`);
  }
  if (!check.ok) {
    throw new WebhookError(WebhookErrorCode.INVALID_EVENT, `Signed ${type} event refused: ${check.reason}`, { description: check.reason });
  }
  return {
    payload: check.payload,
    known: check.known,
    signedAtMs: check.signedAtMs,
    // One-shot hash: no Hash object per delivery (Node >= 20.12).
    deliveryId: hash('sha256', rawBody, 'hex'),
  };
}

/** A type for log messages: JSON-quoted (no control characters) and bounded. */
function quote(type: string): string {
  return JSON.stringify(type.length > 64 ? `${type.slice(0, 64)}…` : type);
}

function invalidSignature(message: string): WebhookError {
  // The answer says no more than "does not match": which secret or type is for the logs only.
  return new WebhookError(WebhookErrorCode.INVALID_SIGNATURE, message, {
    description: 'X-Fractal-Signature does not match the body',
  });
}
