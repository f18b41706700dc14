/**
 * Every `code` this library puts on a {@link FractalError}. Stable: apps may branch on them.
 * OAuth codes (RFC 6749 sections 4.1.2.1 and 5.2) are passed through unchanged when the provider
 * sends them; the others are ours.
 */
export const ErrorCode = {
  /** The options given to a constructor are wrong; the message says which and how to fix it. */
  CONFIGURATION: 'configuration_error',
  /** The user refused the authorization request (RFC 6749 section 4.1.2.1). */
  ACCESS_DENIED: 'access_denied',
  /** The callback's `state` is missing, unknown, expired or already used. */
  INVALID_STATE: 'invalid_state',
  /** The callback's query string is malformed (repeated or missing parameters). */
  INVALID_CALLBACK: 'invalid_callback',
  /** A wallet address given for `ensure_wallet` is not acceptable. */
  INVALID_WALLET: 'invalid_wallet',
  /** The grant lacks scopes the app declared as required. */
  INSUFFICIENT_SCOPE: 'insufficient_scope',
  /** The code or refresh token is invalid, expired, revoked or reused (RFC 6749 section 5.2). */
  INVALID_GRANT: 'invalid_grant',
  /** Client authentication failed (RFC 6749 section 5.2). */
  INVALID_CLIENT: 'invalid_client',
  /** The access token was rejected by the resource server (RFC 6750 section 3.1). */
  INVALID_TOKEN: 'invalid_token',
  /** The provider did not answer within the timeout. */
  PROVIDER_TIMEOUT: 'provider_timeout',
  /** The provider could not be reached, or answered 5xx without an OAuth error body. */
  PROVIDER_UNAVAILABLE: 'provider_unavailable',
  /** The provider answered, but not with the documented shape. */
  INVALID_PROVIDER_RESPONSE: 'invalid_provider_response',
  /** Nobody is signed in (the token vault's guard answers 401 or redirects to sign-in). */
  AUTHENTICATION_REQUIRED: 'authentication_required',
  /** The user must sign in again: the grant is gone (revoked or reused refresh token). */
  REAUTHENTICATION_REQUIRED: 'reauthentication_required',
  /** The token store (Redis) could not be reached. */
  STORE_UNAVAILABLE: 'store_unavailable',
  /**
   * Refreshing this user's tokens failed recently and the next attempt must wait (the token
   * vault's per-user backoff); `retryAfter` says how long. Nothing was lost.
   */
  REFRESH_THROTTLED: 'refresh_throttled',
  /** A per-request `method` or `currency` of the journey is not a documented value. */
  INVALID_JOURNEY_OPTION: 'invalid_journey_option',
  /** A POST callback (embedded journey) came from another origin than the app's own. */
  INVALID_ORIGIN: 'invalid_origin',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];
