import { ErrorCode } from './codes';
import { FractalError } from './fractal-error';

/** The token store (Redis) did not answer. Answer 503 with `Retry-After`; nothing was lost. */
export class StoreUnavailableError extends FractalError {
  /** Seconds a client should wait before retrying. */
  readonly retryAfter: number;

  constructor(message = 'The token store is unavailable', cause?: unknown, retryAfter = 1) {
    super(ErrorCode.STORE_UNAVAILABLE, message, cause === undefined ? { status: 503 } : { status: 503, cause });
    this.retryAfter = retryAfter;
  }
}
