import { ErrorCode } from './codes';
import { FractalError } from './fractal-error';

/**
 * The callback cannot be matched to a pending authorization request of this session: the `state`
 * is missing, unknown, expired, already used, or the query string is malformed. Nothing in the
 * session is changed by such a request, apart from consuming a matching pending entry.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9700#section-4.7 (CSRF protection)
 */
export class StateError extends FractalError {
  constructor(message: string, code: typeof ErrorCode.INVALID_STATE | typeof ErrorCode.INVALID_CALLBACK = ErrorCode.INVALID_STATE) {
    super(code, message);
  }
}
