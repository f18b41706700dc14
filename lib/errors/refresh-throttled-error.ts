import { ErrorCode } from './codes';
import { FractalError } from './fractal-error';

/**
 * The user's access token expired and refreshing it failed recently, so the token vault does not
 * ask the token endpoint again until the user's backoff ends (answer 503 with `Retry-After`). The
 * stored grant is untouched: the first request after the backoff refreshes as usual.
 */
export class RefreshThrottledError extends FractalError {
  /** Seconds until a refresh may be attempted again (at least 1). */
  readonly retryAfter: number;

  constructor(retryAfterMs: number) {
    const retryAfter = Math.max(1, Math.ceil(retryAfterMs / 1000));
    super(ErrorCode.REFRESH_THROTTLED, `Refreshing the Fractal ID tokens failed recently; the next attempt is allowed in ${retryAfter} s`);
    this.retryAfter = retryAfter;
  }
}
