import { ErrorCode } from './codes';
import { FractalError, sanitizeErrorUri, sanitizeProviderText } from './fractal-error';

/**
 * An error response at the redirect URI (RFC 6749 section 4.1.2.1), such as `access_denied`.
 * `code` is the provider's `error` when it is a well-formed OAuth error code, else
 * `invalid_provider_response`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2.1
 */
export class AuthorizationError extends FractalError {
  constructor(error: unknown, description?: unknown, uri?: unknown) {
    const code = isOAuthErrorCode(error) ? error : ErrorCode.INVALID_PROVIDER_RESPONSE;
    const text = sanitizeProviderText(description);
    const options: ConstructorParameters<typeof FractalError>[2] = { error: code };
    if (text !== undefined) options.description = text;
    const safeUri = sanitizeErrorUri(uri);
    if (safeUri !== undefined) options.uri = safeUri;
    super(
      code,
      code === ErrorCode.ACCESS_DENIED
        ? 'The user did not authorize the request at Fractal ID'
        : `Fractal ID answered the authorization request with error "${code}"${text ? `: ${text}` : ''}`,
      options,
    );
  }
}

/** RFC 6749 section 4.1.2.1: error codes are ASCII %x20-21 / %x23-5B / %x5D-7E; we accept the usual subset. */
export function isOAuthErrorCode(value: unknown): value is string {
  return typeof value === 'string' && /^[a-z0-9_.-]{1,64}$/i.test(value);
}
