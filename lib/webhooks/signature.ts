import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import { ConfigurationError } from '../errors';
import { WebhookError, WebhookErrorCode } from './errors';
import type { FractalWebhookType } from './events';

/**
 * Signatures of Fractal ID webhooks: `X-Fractal-Signature: sha1=<hex HMAC-SHA1(secret, raw body)>`,
 * with one secret token per notification type (provider docs,
 * `user-integration/webhooks/securing-webhooks.md`; HMAC: RFC 2104). Kraken-format webhooks
 * (`migration-to-kraken.md`, "4. Webhooks") put the bare lower-case hex of HMAC-SHA256 in the same
 * header, with one "Webhook Secret Key".
 *
 * @see https://www.rfc-editor.org/rfc/rfc2104
 */

/** The header the provider signs with (Node lower-cases incoming header names). */
export const FRACTAL_SIGNATURE_HEADER = 'X-Fractal-Signature';

/** One secret, or several while rotating: the first signs (sender), any of them verifies. */
export type WebhookSecret = string | readonly string[];

/**
 * Secrets per notification type, as the provider issues them. The key `'*'` applies to every type
 * without its own entry (for example types this version does not know yet).
 */
export type WebhookSecretMap = { readonly [T in FractalWebhookType | '*']?: WebhookSecret } & {
  readonly [type: string]: WebhookSecret | undefined;
};

/** One secret (or list) for every type, or a {@link WebhookSecretMap}. */
export type WebhookSecrets = WebhookSecret | WebhookSecretMap;

/** The HMAC of each webhook format: `sha1` (Fractal ID), `sha256` (Kraken). */
export type WebhookSignatureAlgorithm = 'sha1' | 'sha256';

const DIGEST_BYTES: Record<WebhookSignatureAlgorithm, number> = { sha1: 20, sha256: 32 };

/**
 * The `X-Fractal-Signature` value for `body`, for your own tests and for senders: `sha1=` +
 * lowercase hex of HMAC-SHA1 (default, Fractal ID format), or with `'sha256'` the bare lowercase
 * hex of HMAC-SHA256 (Kraken format, `migration-to-kraken.md`). `body` must be the exact bytes you
 * send: a string is signed as UTF-8.
 *
 * @example
 * const body = JSON.stringify({ type: 'email_changed', data: { user_id: 'u1', email: 'a@example.com' } });
 * await request(app).post('/webhooks/fractal').type('json')
 *   .set('X-Fractal-Signature', signFractalWebhook(secret, body)).send(body);
 */
export function signFractalWebhook(secret: string, body: string | Uint8Array, algorithm: WebhookSignatureAlgorithm = 'sha1'): string {
  if (typeof secret !== 'string' || secret.length === 0) {
    throw new ConfigurationError('signFractalWebhook needs the secret token as a non-empty string');
  }
  if (algorithm === 'sha256') return hmac(secret, body, 'sha256').toString('hex');
  if (algorithm !== 'sha1') throw new ConfigurationError("signFractalWebhook: `algorithm` must be 'sha1' or 'sha256'");
  return `sha1=${hmac(secret, body).toString('hex')}`;
}

/**
 * Reads `X-Fractal-Signature`. The documented form is `sha1=` and 40 lowercase hex digits; upper
 * case hex (and `SHA1=`) is accepted too: it decodes to the same 20 bytes, which are compared in
 * constant time, so leniency costs no security. Other algorithms (`sha256=`) are refused by name.
 *
 * @internal
 */
export function parseSignatureHeader(value: string | readonly string[] | undefined): Buffer {
  if (Array.isArray(value) && value.length > 1) {
    throw new WebhookError(WebhookErrorCode.MALFORMED_SIGNATURE, 'X-Fractal-Signature was sent more than once', {
      description: 'Send exactly one X-Fractal-Signature header',
    });
  }
  const raw = (Array.isArray(value) ? value[0] : value) as string | undefined;
  const header = raw?.trim() ?? '';
  if (header.length === 0) {
    throw new WebhookError(WebhookErrorCode.MISSING_SIGNATURE, 'The request has no X-Fractal-Signature header', {
      description: 'The X-Fractal-Signature header is missing',
    });
  }
  const separator = header.indexOf('=');
  const algorithm = separator > 0 ? header.slice(0, separator).toLowerCase() : '';
  if (algorithm !== 'sha1') {
    if (/^[a-z0-9-]{1,20}$/.test(algorithm)) {
      // The algorithm name is a short token from a fixed alphabet: safe to quote back.
      throw new WebhookError(WebhookErrorCode.UNSUPPORTED_SIGNATURE_ALGORITHM, `X-Fractal-Signature uses ${algorithm}, not sha1`, {
        description: `Fractal ID signs with HMAC-SHA1 (sha1=<hex>); ${algorithm} is not supported`,
      });
    }
    throw malformed();
  }
  const hex = header.slice(separator + 1);
  if (!/^[0-9a-fA-F]{40}$/.test(hex)) throw malformed();
  return Buffer.from(hex, 'hex');
}

/**
 * Reads a Kraken-format `X-Fractal-Signature`: 64 hex digits, no prefix (`migration-to-kraken.md`).
 * Upper case is accepted for the same reason as above. A `sha1=` header means the sender uses the
 * other format: refused by name, so a wrong `format` setting is easy to spot in the logs.
 *
 * @internal
 */
export function parseKrakenSignatureHeader(value: string | readonly string[] | undefined): Buffer {
  if (Array.isArray(value) && value.length > 1) {
    throw new WebhookError(WebhookErrorCode.MALFORMED_SIGNATURE, 'X-Fractal-Signature was sent more than once', {
      description: 'Send exactly one X-Fractal-Signature header',
    });
  }
  const header = ((Array.isArray(value) ? value[0] : value) as string | undefined)?.trim() ?? '';
  if (header.length === 0) {
    throw new WebhookError(WebhookErrorCode.MISSING_SIGNATURE, 'The request has no X-Fractal-Signature header', {
      description: 'The X-Fractal-Signature header is missing',
    });
  }
  if (/^sha1=/i.test(header)) {
    throw new WebhookError(WebhookErrorCode.UNSUPPORTED_SIGNATURE_ALGORITHM, 'X-Fractal-Signature uses sha1= but this endpoint expects Kraken-format webhooks (format: kraken)', {
      description: 'This endpoint expects Kraken-format webhooks: X-Fractal-Signature is the hex HMAC-SHA256 of the body',
    });
  }
  if (!/^[0-9a-fA-F]{64}$/.test(header)) {
    throw new WebhookError(WebhookErrorCode.MALFORMED_SIGNATURE, 'X-Fractal-Signature is not 64 hex digits (Kraken format)', {
      description: 'X-Fractal-Signature must be the 64 hex digits of HMAC-SHA256',
    });
  }
  return Buffer.from(header, 'hex');
}

function malformed(): WebhookError {
  return new WebhookError(WebhookErrorCode.MALFORMED_SIGNATURE, 'X-Fractal-Signature is not sha1=<40 hex digits>', {
    description: 'X-Fractal-Signature must be sha1=<40 hex digits>',
  });
}

/**
 * Secrets compiled once: which secrets apply to which type. Holds the secrets in memory only; its
 * `toString`/`toJSON` reveal nothing, so logging it by mistake leaks nothing.
 *
 * @internal
 */
export class SecretSet {
  readonly #byType = new Map<string, readonly string[]>();
  readonly #fallback: readonly string[];
  /**
   * The distinct secrets, each with its key object made once: `createHmac` with a string key converts and
   * imports it on every call (~0.35 µs of ~3 µs per delivery).
   */
  readonly #keys: readonly { secret: string; key: KeyObject }[];

  readonly #algorithm: WebhookSignatureAlgorithm;

  constructor(secrets: WebhookSecrets, owner = 'fractalWebhooks', algorithm: WebhookSignatureAlgorithm = 'sha1') {
    this.#algorithm = algorithm;
    if (typeof secrets === 'string' || Array.isArray(secrets)) {
      this.#fallback = checkSecret(secrets as WebhookSecret, owner, 'secrets');
    } else if (typeof secrets === 'object' && secrets !== null) {
      let fallback: readonly string[] = [];
      for (const [type, value] of Object.entries(secrets as WebhookSecretMap)) {
        if (value === undefined) continue;
        const list = checkSecret(value, owner, `secrets[${JSON.stringify(type)}]`);
        if (type === '*') fallback = list;
        else this.#byType.set(type, list);
      }
      this.#fallback = fallback;
      if (this.#byType.size === 0 && fallback.length === 0) {
        throw new ConfigurationError(`${owner}: \`secrets\` has no secret; give one per notification type (or '*')`);
      }
    } else {
      throw new ConfigurationError(
        `${owner} needs \`secrets\`: the webhook secret token (a string), several during a rotation (an array), or one per notification type (an object)`,
      );
    }
    this.#keys = [...new Set([...this.#fallback, ...[...this.#byType.values()].flat()])].map((secret) => ({ secret, key: createSecretKey(Buffer.from(secret, 'utf8')) }));
  }

  /** Secrets that may sign an event of `type` (the first one is the current one). */
  for(type: string): readonly string[] {
    return this.#byType.get(type) ?? this.#fallback;
  }

  /** The secrets whose HMAC over `body` equals `digest`, each compared in constant time. */
  matching(body: Uint8Array, digest: Buffer): ReadonlySet<string> {
    const matched = new Set<string>();
    if (digest.length !== DIGEST_BYTES[this.#algorithm]) return matched;
    // Every secret is tried (no early exit), so timing does not tell which one matched.
    for (const { secret, key } of this.#keys) {
      if (timingSafeEqual(createHmac(this.#algorithm, key).update(body).digest(), digest)) matched.add(secret);
    }
    return matched;
  }

  /** Types with their own entry whose secrets include one of `matched` (for log messages). */
  typesSignedBy(matched: ReadonlySet<string>): string[] {
    return [...this.#byType].filter(([, list]) => list.some((s) => matched.has(s))).map(([type]) => type);
  }

  toString(): string {
    return '[SecretSet]';
  }

  toJSON(): string {
    return '[SecretSet]';
  }
}

function checkSecret(value: WebhookSecret, owner: string, name: string): readonly string[] {
  const list = typeof value === 'string' ? [value] : Array.isArray(value) ? [...value] : [];
  if (list.length === 0 || list.some((s) => typeof s !== 'string' || s.length === 0)) {
    throw new ConfigurationError(`${owner}: ${name} must be a non-empty string or a non-empty array of non-empty strings`);
  }
  return list;
}

function hmac(secret: string, body: string | Uint8Array, algorithm: WebhookSignatureAlgorithm = 'sha1'): Buffer {
  return createHmac(algorithm, secret).update(body).digest();
}
