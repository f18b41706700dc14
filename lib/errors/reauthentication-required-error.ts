import { ErrorCode } from './codes';
import { FractalError } from './fractal-error';

/**
 * The user's grant is gone (revoked at Fractal ID, or its refresh token was reused): their stored
 * tokens were deleted and they must sign in again. Guards turn it into a sign-in redirect or a 401.
 */
export class ReauthenticationRequiredError extends FractalError {
  constructor(message = 'The Fractal ID grant is no longer valid; the user must sign in again', cause?: unknown) {
    super(ErrorCode.REAUTHENTICATION_REQUIRED, message, cause === undefined ? {} : { cause });
  }
}
