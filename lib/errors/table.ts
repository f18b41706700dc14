/**
 * The one table of error codes: the HTTP status an app should answer with, and a description
 * that is safe to show a browser or API client (fixed text: never a host name, a secret or a
 * provider's words). Every error class takes its status and default description from here;
 * an error may carry a more precise description (the provider's sanitised `error_description`,
 * a webhook's reason), never its `message`, which is for logs.
 *
 * OAuth codes follow RFC 6749 sections 4.1.2.1 and 5.2; the others are ours (see `ErrorCode`,
 * `WebhookErrorCode`, `ResourceErrorCode`).
 */
export const ERROR_TABLE: Readonly<Record<string, { readonly status: number; readonly description: string }>> = Object.freeze({
  // Ours (ErrorCode).
  configuration_error: { status: 500, description: 'The app is not configured correctly for Fractal ID' },
  invalid_state: { status: 403, description: 'This sign-in link has expired or was already used; start again' },
  invalid_callback: { status: 400, description: 'The sign-in response is malformed; start again' },
  invalid_wallet: { status: 400, description: 'The wallet address is not acceptable' },
  insufficient_scope: { status: 403, description: 'The Fractal ID authorization lacks required scopes' },
  invalid_token: { status: 401, description: 'The Fractal ID access token was rejected' },
  provider_timeout: { status: 504, description: 'Fractal ID did not answer in time; try again shortly' },
  provider_unavailable: { status: 502, description: 'Fractal ID is unavailable; try again shortly' },
  // An upstream (or someone pretending to be it) answered off the documented shape: a bad gateway.
  invalid_provider_response: { status: 502, description: 'Fractal ID answered in an unexpected way' },
  authentication_required: { status: 401, description: 'Sign in with Fractal ID to continue' },
  reauthentication_required: { status: 401, description: 'The Fractal ID authorization is no longer valid; sign in again' },
  store_unavailable: { status: 503, description: 'The token store is unavailable; try again shortly' },
  invalid_journey_option: { status: 400, description: 'A sign-in option of this request is not acceptable' },
  invalid_origin: { status: 403, description: 'This sign-in response came from another site' },
  refresh_throttled: { status: 503, description: 'Fractal ID could not renew the authorization just now; try again shortly' },
  // OAuth codes the provider sends (RFC 6749 sections 4.1.2.1 and 5.2).
  access_denied: { status: 403, description: 'The sign-in at Fractal ID was cancelled' },
  // A stale or replayed code is the browser's doing (back button, double submit): a client error.
  invalid_grant: { status: 400, description: 'The authorization has expired or was already used; start again' },
  // Our credentials were refused: the app's fault, not the visitor's.
  invalid_client: { status: 500, description: 'The app could not authenticate at Fractal ID' },
  server_error: { status: 502, description: 'Fractal ID had an internal error; try again shortly' },
  temporarily_unavailable: { status: 503, description: 'Fractal ID is temporarily unavailable; try again shortly' },
  // Webhooks (WebhookErrorCode): the answer to the provider's delivery.
  method_not_allowed: { status: 405, description: 'Webhooks are delivered with POST' },
  unsupported_media_type: { status: 415, description: 'The webhook body must be UTF-8 JSON without content coding' },
  payload_too_large: { status: 413, description: 'The webhook body is too large' },
  raw_body_unavailable: { status: 503, description: 'The webhook body could not be read as sent' },
  missing_signature: { status: 400, description: 'The webhook has no signature' },
  malformed_signature: { status: 400, description: 'The webhook signature is malformed' },
  unsupported_signature_algorithm: { status: 400, description: 'The webhook signature uses an unsupported algorithm' },
  invalid_signature: { status: 400, description: 'The webhook signature does not match' },
  invalid_json: { status: 400, description: 'The webhook body is not JSON' },
  invalid_payload: { status: 400, description: 'The webhook body is not an event' },
  invalid_event: { status: 422, description: 'The webhook event does not have the documented shape' },
  event_too_old: { status: 400, description: 'The webhook event is older than the replay window' },
  request_timeout: { status: 408, description: 'The webhook body did not arrive in time' },
  delivery_in_progress: { status: 409, description: 'This delivery is being handled; retry later' },
  handler_failed: { status: 500, description: 'The webhook could not be handled; retry later' },
  // Back-office resource calls (ResourceErrorCode).
  rate_limited: { status: 503, description: 'Fractal ID is rate limiting this app; try again later' },
  request_rejected: { status: 502, description: 'Fractal ID refused the request' },
});

/** Status and safe description of any other code (an OAuth code we do not list, e.g. `invalid_client`). */
const UNLISTED = { status: 500, description: 'Signing in with Fractal ID failed' } as const;

export function statusOf(code: string): number {
  return (Object.hasOwn(ERROR_TABLE, code) ? ERROR_TABLE[code] : undefined)?.status ?? UNLISTED.status;
}

export function describeCode(code: string): string {
  return (Object.hasOwn(ERROR_TABLE, code) ? ERROR_TABLE[code] : undefined)?.description ?? UNLISTED.description;
}
