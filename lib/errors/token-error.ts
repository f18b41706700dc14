import { ErrorCode } from './codes';
import { FractalError, sanitizeErrorUri, sanitizeProviderText } from './fractal-error';
import { isOAuthErrorCode } from './authorization-error';

/**
 * An error response from the token endpoint (RFC 6749 section 5.2), e.g. `invalid_grant` for an
 * expired or reused code, `invalid_client` for wrong credentials.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.2
 */
export class TokenError extends FractalError {
  /** HTTP status of the token endpoint's answer. */
  readonly providerStatus: number;

  constructor(error: unknown, description: unknown, uri: unknown, providerStatus: number) {
    const code = isOAuthErrorCode(error) ? error : ErrorCode.INVALID_PROVIDER_RESPONSE;
    const text = sanitizeProviderText(description);
    const options: ConstructorParameters<typeof FractalError>[2] = { error: code };
    if (text !== undefined) options.description = text;
    const safeUri = sanitizeErrorUri(uri);
    if (safeUri !== undefined) options.uri = safeUri;
    super(code, `Fractal ID token endpoint answered ${providerStatus} "${code}"${text ? `: ${text}` : ''}`, options);
    this.providerStatus = providerStatus;
  }
}
