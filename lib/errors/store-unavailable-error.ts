import { ErrorCode } from './codes';
import { FractalError } from './fractal-error';

/**
 * The token store (Redis) did not answer. Answer 503 with `Retry-After`; nothing was lost. `message`
 * (for logs) may name the Redis host; `description` and `toJSON()` never do.
 */
export class StoreUnavailableError extends FractalError {
  /** Seconds a client should wait before retrying. */
  readonly retryAfter: number;

  constructor(message = 'The token store is unavailable', cause?: unknown, retryAfter = 1) {
    super(ErrorCode.STORE_UNAVAILABLE, message, cause === undefined ? {} : { cause });
    this.retryAfter = retryAfter;
  }
}
