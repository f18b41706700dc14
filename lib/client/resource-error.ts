import { ErrorCode } from '../errors';
import { FractalError, sanitizeProviderText } from '../errors';
import { isRecord, type ProviderResponse } from '../provider';
import { parseRetryAfter } from '../provider';

/**
 * Codes of {@link ResourceError}. Branch on them, not on `instanceof`. `invalid_token`,
 * `insufficient_scope` and `provider_unavailable` are the library-wide codes of `ErrorCode`.
 */
export const ResourceErrorCode = {
  /** 401 even after dropping the cached app token and fetching a new one. */
  INVALID_TOKEN: ErrorCode.INVALID_TOKEN,
  /** 403: the app token lacks the scope (ask Fractal ID to enable `client.stats:read` for the app). */
  INSUFFICIENT_SCOPE: ErrorCode.INSUFFICIENT_SCOPE,
  /** 429 after every retry, or with a `Retry-After` above `retry.maxRetryAfterMs`. */
  RATE_LIMITED: 'rate_limited',
  /** 5xx after every retry. */
  PROVIDER_UNAVAILABLE: ErrorCode.PROVIDER_UNAVAILABLE,
  /** Any other status (400, 404, 422, ...): the request itself was refused. */
  REQUEST_REJECTED: 'request_rejected',
} as const;

export type ResourceErrorCode = (typeof ResourceErrorCode)[keyof typeof ResourceErrorCode];

/**
 * The resource server (`/v2/stats/*`) answered with an error status. Carries the HTTP status, the
 * provider's message (sanitised: it is untrusted text) and, for 429 and 503, how long it asked us
 * to wait.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3.1 (error codes of bearer-token resources)
 */
export class ResourceError extends FractalError {
  override readonly code: ResourceErrorCode;
  /** Which endpoint failed, e.g. `stats/total-verifications`. Never a URL. */
  readonly endpoint: string;
  /** The status the resource server answered with. */
  readonly providerStatus: number;
  /** The server's `Retry-After`, in milliseconds, when it sent one. */
  readonly retryAfterMs?: number;

  constructor(endpoint: string, providerStatus: number, details: { error?: unknown; description?: unknown; retryAfterMs?: number } = {}) {
    const code = codeFor(providerStatus);
    const text = sanitizeProviderText(details.description);
    const error = typeof details.error === 'string' && /^[\w.-]{1,64}$/.test(details.error) ? details.error : undefined;
    // The resource server's 401 and 403 concern this app's credentials, not the visitor: to the
    // app's own callers every refusal is an upstream failure (502); rate limiting is 503.
    const init: ConstructorParameters<typeof FractalError>[2] = { status: code === ResourceErrorCode.RATE_LIMITED ? 503 : 502 };
    if (text !== undefined) init.description = text;
    if (error !== undefined) init.error = error;
    super(code, `Fractal ID ${endpoint} endpoint answered ${providerStatus}${text ? `: ${text}` : ''}${hint(code)}`, init);
    this.code = code;
    this.endpoint = endpoint;
    this.providerStatus = providerStatus;
    if (details.retryAfterMs !== undefined) this.retryAfterMs = details.retryAfterMs;
  }

  /** Builds the error from an answer, reading the provider's message from its JSON body, if any. */
  static fromResponse(endpoint: string, response: ProviderResponse): ResourceError {
    const body = isRecord(response.json) ? response.json : {};
    // Doorkeeper answers `{error, error_description}`; other Rails errors `{message}` or `{error: "text"}`.
    const description = body.error_description ?? body.message ?? (typeof body.error === 'string' && /\s/.test(body.error) ? body.error : undefined);
    const details: { error?: unknown; description?: unknown; retryAfterMs?: number } = { error: body.error, description };
    const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'));
    if (retryAfterMs !== undefined) details.retryAfterMs = retryAfterMs;
    return new ResourceError(endpoint, response.status, details);
  }
}

function codeFor(status: number): ResourceErrorCode {
  if (status === 401) return ResourceErrorCode.INVALID_TOKEN;
  if (status === 403) return ResourceErrorCode.INSUFFICIENT_SCOPE;
  if (status === 429) return ResourceErrorCode.RATE_LIMITED;
  if (status >= 500) return ResourceErrorCode.PROVIDER_UNAVAILABLE;
  return ResourceErrorCode.REQUEST_REJECTED;
}

function hint(code: ResourceErrorCode): string {
  switch (code) {
    case ResourceErrorCode.INVALID_TOKEN:
      return ' (a freshly fetched app token was rejected too: check the client credentials and environment)';
    case ResourceErrorCode.INSUFFICIENT_SCOPE:
      return ' (the app token lacks the scope: ask Fractal ID to enable client.stats:read for this client)';
    default:
      return '';
  }
}
