import { hash } from 'node:crypto';
import { randomToken } from './random-token';

/**
 * A PKCE pair: 32 bytes from the CSPRNG (`randomToken`) as base64url (43 characters, the RFC's own
 * recommendation) and its S256 challenge. Generated here rather than by passport-oauth2, which uses
 * the deprecated `crypto.pseudoRandomBytes` (DEP0115).
 *
 * @see https://www.rfc-editor.org/rfc/rfc7636#section-4.1
 * @see https://www.rfc-editor.org/rfc/rfc7636#section-4.2
 */
export function createPkcePair(): { verifier: string; challenge: string } {
  const verifier = randomToken();
  return { verifier, challenge: hash('sha256', verifier, 'base64url') };
}

export interface AuthorizationRequest {
  authorizationURL: string;
  clientID: string;
  redirectUri: string;
  scopes: readonly string[];
  state: string;
  /** S256 challenge; absent when PKCE is off. */
  codeChallenge?: string;
  ensureWallet?: string;
  /** The journey's `method` and `currency` (journey-params.ts). */
  journey?: Record<string, string>;
}

/**
 * The redirect to Fractal ID's authorization page (RFC 6749 section 4.1.1; `ensure_wallet` from the
 * provider docs, `user-integration/user-authorization.md`), with the same parameters and order
 * passport-oauth2 used to send. Spaces are encoded as `%20` (RFC 3986), as before.
 */
export function authorizationLocation(request: AuthorizationRequest): string {
  // One string built in order, rather than [name, value] pairs mapped and joined: the names are
  // constants that need no encoding, and this runs on every sign-in start (~1 µs less).
  let query = '';
  if (request.ensureWallet !== undefined) query += `ensure_wallet=${encodeURIComponent(request.ensureWallet)}&`;
  if (request.journey !== undefined) {
    for (const [name, value] of Object.entries(request.journey)) query += `${encodeURIComponent(name)}=${encodeURIComponent(value)}&`;
  }
  query += `response_type=code&redirect_uri=${encodeURIComponent(request.redirectUri)}&scope=${encodeURIComponent(request.scopes.join(' '))}`;
  if (request.codeChallenge !== undefined) query += `&code_challenge=${encodeURIComponent(request.codeChallenge)}&code_challenge_method=S256`;
  query += `&state=${encodeURIComponent(request.state)}&client_id=${encodeURIComponent(request.clientID)}`;
  return `${baseOf(request.authorizationURL)}${query}`;
}

/** A strategy has one authorization URL: parsed once, not on every sign-in start. */
let lastAuthorizationURL: string | undefined;
let lastBase = '';

/** The authorization URL normalised, ending in `?` or `&`, ready for the query. */
function baseOf(authorizationURL: string): string {
  if (authorizationURL !== lastAuthorizationURL) {
    const url = new URL(authorizationURL);
    lastBase = `${url.origin}${url.pathname}${url.search ? `${url.search}&` : '?'}`;
    lastAuthorizationURL = authorizationURL;
  }
  return lastBase;
}
