import type { FractalUser } from '../provider';

/**
 * What `fractal.middleware()` puts on `req.fractal`. Lazy: nothing touches the token store until
 * a method is called, and the record is read at most once per request.
 */
export interface FractalRequestContext {
  /** The signed-in user's id as the vault knows it (`userId` option), or undefined. */
  readonly userId: string | undefined;
  /**
   * Scopes of the stored grant, once known: after `require()`, `getAccessToken()`,
   * `getGrantedScopes()` or `hasScopes()` ran in this request. Undefined before.
   */
  readonly grantedScopes: readonly string[] | undefined;
  /**
   * A valid access token, refreshed first when it expires within `refreshSkewMs`.
   * Never log it.
   *
   * @throws FractalError `reauthentication_required` (no user, no tokens, or grant revoked),
   *   `store_unavailable`, `refresh_throttled` (expired, and a refresh failed moments ago), or a
   *   provider error when the token endpoint kept failing.
   */
  getAccessToken(): Promise<string>;
  /**
   * The granted scopes, from the store (no refresh: scopes never change on refresh). Empty when
   * nobody is signed in or no tokens are stored.
   */
  getGrantedScopes(): Promise<readonly string[]>;
  /** True when every given scope was granted. */
  hasScopes(...scopes: string[]): Promise<boolean>;
  /**
   * `GET /v2/users/me` with the user's token. A 401 answer (token revoked or expired early)
   * triggers one refresh and one retry.
   */
  fetchUser(): Promise<FractalUser>;
}

declare global {
  namespace Express {
    interface Request {
      /** Set by `createFractalVault(...).middleware()`. */
      fractal?: FractalRequestContext;
    }
  }
}
