import { ErrorCode } from '../errors';
import { ProviderError } from '../errors';
import { providerRequest, type ProviderAgents } from '../provider';
import type { AppTokens } from './app-tokens';
import { ResourceError } from './resource-error';
import { withRetry, type ResolvedRetry, type RetryVerdict } from '../provider';

export interface AppResourceSettings {
  resourceURL: string;
  tokens: AppTokens;
  timeoutMs: number;
  retry: ResolvedRetry;
  agents?: ProviderAgents;
}

/**
 * `GET` on the resource origin with an app token:
 * - a 401 drops the token (it was revoked or expired early at the provider) and the request is
 *   sent once more with a new one; a second 401 is an error, not a loop;
 * - 429 and 5xx, timeouts and connection failures are retried with backoff, waiting what
 *   `Retry-After` says when the server says it (these are idempotent reads);
 * - any other status is a {@link ResourceError} with the provider's message.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3.1
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-10.2.3
 */
export class AppResource {
  readonly #s: AppResourceSettings;

  constructor(settings: AppResourceSettings) {
    this.#s = settings;
  }

  get<T>(endpoint: string, pathAndQuery: string, parse: (json: unknown) => T): Promise<T> {
    const { resourceURL, tokens, timeoutMs, retry } = this.#s;
    let rejected: string | undefined;
    const attempt = async (): Promise<T> => {
      for (;;) {
        // Token errors are final here: the token fetch has its own retries.
        const token = await tokens.get(rejected);
        const res = await providerRequest({
          endpoint,
          url: `${resourceURL}${pathAndQuery}`,
          method: 'GET',
          headers: { authorization: `Bearer ${token.accessToken}` },
          timeoutMs,
          ...(this.#s.agents ? { agents: this.#s.agents } : {}),
        });
        if (res.status === 401 && rejected === undefined) {
          rejected = token.accessToken;
          continue;
        }
        if (res.status < 200 || res.status > 299) throw ResourceError.fromResponse(endpoint, res);
        if (res.invalidJson || res.json === undefined) {
          throw new ProviderError(ErrorCode.INVALID_PROVIDER_RESPONSE, endpoint, `Fractal ID ${endpoint} answer is not JSON`, {
            providerStatus: res.status,
          });
        }
        return parse(res.json);
      }
    };
    return withRetry(retry, attempt, (err) => retryVerdict(err, endpoint));
  }
}

function retryVerdict(err: unknown, endpoint: string): RetryVerdict {
  if (err instanceof ResourceError) {
    const transient = err.providerStatus === 429 || err.providerStatus >= 500;
    return err.retryAfterMs === undefined ? { retry: transient } : { retry: transient, retryAfterMs: err.retryAfterMs };
  }
  // Transport failures of this endpoint (not of the token endpoint, which retried already).
  if (err instanceof ProviderError && err.endpoint === endpoint) {
    return { retry: err.code === ErrorCode.PROVIDER_TIMEOUT || err.code === ErrorCode.PROVIDER_UNAVAILABLE };
  }
  return { retry: false };
}
