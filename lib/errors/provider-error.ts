import type { ErrorCode } from './codes';
import { FractalError, sanitizeProviderText } from './fractal-error';

type ProviderCode =
  | typeof ErrorCode.PROVIDER_TIMEOUT
  | typeof ErrorCode.PROVIDER_UNAVAILABLE
  | typeof ErrorCode.INVALID_PROVIDER_RESPONSE
  | typeof ErrorCode.INVALID_TOKEN;

/**
 * A request to Fractal ID failed below the OAuth layer: timeout, connection failure, 5xx without
 * an OAuth error body, a body that is not the documented shape, or a resource request whose access
 * token was rejected (401).
 */
export class ProviderError extends FractalError {
  /** Which endpoint failed, e.g. `token` or `users/me`. Never contains a URL with credentials. */
  readonly endpoint: string;
  /** HTTP status the provider answered with, when it answered. */
  readonly providerStatus?: number;

  constructor(
    code: ProviderCode,
    endpoint: string,
    message: string,
    options: { providerStatus?: number; description?: unknown; cause?: unknown } = {},
  ) {
    const init: ConstructorParameters<typeof FractalError>[2] = {};
    const text = sanitizeProviderText(options.description);
    if (text !== undefined) init.description = text;
    if (options.cause !== undefined) init.cause = options.cause;
    super(code, message, init);
    this.endpoint = endpoint;
    if (options.providerStatus !== undefined) this.providerStatus = options.providerStatus;
  }
}
