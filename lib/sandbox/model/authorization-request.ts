import { UID_SCOPE, normalizeScopes, parseScope } from '../../provider';
import type { ClientRecord } from './client-registry';
import { SandboxError } from '../errors';
import type { SandboxContext } from './context';
import type { SandboxDecision, SandboxUserType } from '../types';
import { checkEmail } from './user-directory';

/**
 * The authorization endpoint's logic, shared by the consent form, `sandbox.authorize()` and the
 * admin API: validating a request (RFC 6749 section 4.1.1) and turning a decision into the
 * redirect (section 4.1.2).
 */

export const DEFAULT_EMAIL = 'alice@example.com';

/** A validated authorization request. */
export interface AuthorizationRequest {
  client: ClientRecord;
  redirectUri: string;
  /** Requested scopes; `uid:read` when the request named none (provider docs). */
  scopes: string[];
  state: string;
  ensureWallet?: string;
  codeChallenge?: string;
  codeChallengeMethod?: 'S256' | 'plain';
}

export type AuthorizeCheck =
  | { kind: 'ok'; request: AuthorizationRequest }
  /** The client or redirect URI cannot be trusted: show an error page, never redirect. */
  | { kind: 'page'; error: string; description: string }
  | { kind: 'redirect'; location: string };

/** Doorkeeper's wording (config/locales/en.yml), which the provider shows. */
export const DESCRIPTIONS = {
  invalid_request: 'The request is missing a required parameter, includes an unsupported parameter value, or is otherwise malformed.',
  invalid_client: 'Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.',
  invalid_redirect_uri: "The requested redirect URI is malformed or doesn't match the client redirect URI.",
  access_denied: 'The resource owner or authorization server denied the request.',
  invalid_scope: 'The requested scope is invalid, unknown, or malformed.',
  unsupported_response_type: 'The authorization server does not support this response type.',
  invalid_grant:
    'The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.',
  unsupported_grant_type: 'The authorization grant type is not supported by the authorization server.',
} as const;

/** RFC 6749 section 3.3. */
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;
/** RFC 7636 section 4.2: 43 to 128 unreserved characters. */
const CODE_CHALLENGE = /^[A-Za-z0-9._~-]{43,128}$/;
const WALLET = /^[\x21-\x7e]{1,256}$/;

export function checkAuthorizeRequest(ctx: SandboxContext, params: URLSearchParams): AuthorizeCheck {
  const single = (name: string): string | undefined | null => {
    const values = params.getAll(name);
    if (values.length > 1) return null; // RFC 6749 section 3.1: parameters MUST NOT repeat.
    return values[0];
  };
  const clientID = single('client_id');
  if (!clientID) return { kind: 'page', error: 'invalid_request', description: 'The request has no client_id (or more than one).' };
  const client = ctx.clients.get(clientID);
  if (!client) return { kind: 'page', error: 'invalid_client', description: `No application is registered with client_id ${JSON.stringify(clientID)}.` };
  const redirectUri = single('redirect_uri');
  // RFC 6749 section 4.1.2.1: a redirect URI that is missing or not registered (compared byte for
  // byte, provider docs) must not receive the error, or the endpoint becomes an open redirector.
  if (!redirectUri || !client.redirectUris.includes(redirectUri)) {
    return { kind: 'page', error: 'invalid_redirect_uri', description: DESCRIPTIONS.invalid_redirect_uri };
  }

  const stateValues = params.getAll('state');
  const state = stateValues.length === 1 && stateValues[0] !== '' ? stateValues[0] : undefined;
  const fail = (error: string, description: string): AuthorizeCheck => ({
    kind: 'redirect',
    location: redirectWith(redirectUri, state === undefined ? { error, error_description: description } : { error, error_description: description, state }),
  });

  for (const name of new Set(params.keys())) {
    if (params.getAll(name).length > 1) return fail('invalid_request', `The parameter ${name} is repeated (RFC 6749 section 3.1).`);
  }
  // From here on no parameter repeats.
  const get = (name: string): string | undefined => params.get(name) ?? undefined;
  const responseType = get('response_type');
  if (!responseType) return fail('invalid_request', 'Missing required parameter: response_type.');
  if (responseType !== 'code') return fail('unsupported_response_type', DESCRIPTIONS.unsupported_response_type);
  // Fractal ID requires state (provider docs), stricter than RFC 6749's RECOMMENDED.
  if (state === undefined) return fail('invalid_request', 'Missing required parameter: state.');

  const rawScope = get('scope') ?? '';
  const scopes = rawScope.trim() === '' ? [UID_SCOPE] : normalizeScopes(rawScope);
  for (const scope of scopes) {
    if (!SCOPE_TOKEN.test(scope)) return fail('invalid_scope', DESCRIPTIONS.invalid_scope);
    const kind = parseScope(scope).kind;
    if (kind === 'unknown') return fail('invalid_scope', `Unknown scope ${scope}. ${DESCRIPTIONS.invalid_scope}`);
    if (kind === 'client') return fail('invalid_scope', `${scope} is for the client credentials grant only.`);
  }

  const request: AuthorizationRequest = { client, redirectUri, scopes, state };
  const challenge = get('code_challenge');
  if (challenge) {
    const method = get('code_challenge_method');
    // Doorkeeper rejects a challenge without an explicit method rather than assuming `plain`.
    if (method !== 'S256' && method !== 'plain') return fail('invalid_request', 'The code_challenge_method must be one of S256, plain.');
    if (!CODE_CHALLENGE.test(challenge)) return fail('invalid_request', 'The code_challenge must be 43 to 128 characters (RFC 7636 section 4.2).');
    request.codeChallenge = challenge;
    request.codeChallengeMethod = method;
  }
  const wallet = get('ensure_wallet');
  if (wallet !== undefined && wallet !== '') {
    if (!WALLET.test(wallet)) return fail('invalid_request', 'ensure_wallet must be 1 to 256 printable characters.');
    request.ensureWallet = wallet;
  }
  return { kind: 'ok', request };
}

/** The resolved choice of the user at the consent page. */
export interface Consent {
  email: string;
  userType: SandboxUserType;
  /** Ticked scopes; undefined = all requested. */
  grantScopes?: readonly string[];
  /** Undefined = the request's ensure_wallet; empty = none. */
  wallet?: string;
}

export function consentFromDecision(decision: SandboxDecision = {}): Consent | 'deny' {
  if (typeof decision !== 'object' || decision === null) throw new SandboxError('invalid_decision', 'decision must be an object');
  if (decision.approve === false) return 'deny';
  const userType = decision.userType ?? 'person';
  if (userType !== 'person' && userType !== 'institution') throw new SandboxError('invalid_decision', 'userType must be "person" or "institution"');
  if (decision.grantScopes !== undefined && !(Array.isArray(decision.grantScopes) && decision.grantScopes.every((s) => typeof s === 'string'))) {
    throw new SandboxError('invalid_decision', 'grantScopes must be an array of scope strings');
  }
  if (decision.wallet !== undefined && typeof decision.wallet !== 'string') throw new SandboxError('invalid_decision', 'wallet must be a string');
  const consent: Consent = { email: checkEmail(decision.email ?? DEFAULT_EMAIL), userType };
  if (decision.grantScopes !== undefined) consent.grantScopes = decision.grantScopes;
  if (decision.wallet !== undefined) consent.wallet = decision.wallet;
  return consent;
}

/** RFC 6749 section 4.1.2.1 with the provider's `access_denied` wording. */
export function denyLocation(request: AuthorizationRequest): string {
  return redirectWith(request.redirectUri, { error: 'access_denied', error_description: DESCRIPTIONS.access_denied, state: request.state });
}

/**
 * Records the consent and issues a one-time code (RFC 6749 section 4.1.2): the user is created or
 * updated, the wallet attached, a pending case opened per requested level or add-on.
 */
export function approveLocation(ctx: SandboxContext, request: AuthorizationRequest, consent: Consent): string {
  const user = ctx.users.ensureRecord({ email: consent.email, userType: consent.userType });
  const scopes = grantedScopes(ctx, request.scopes, consent.grantScopes, consent.userType);
  const wallet = (consent.wallet ?? request.ensureWallet ?? '').trim();
  if (wallet !== '') {
    if (!WALLET.test(wallet)) throw new SandboxError('invalid_wallet', 'A wallet address is 1 to 256 printable characters without spaces');
    ctx.users.addWallet(user.uid, { address: wallet });
  }
  for (const scope of scopes) {
    const parsed = parseScope(scope);
    // Only a status scope sends the user through the level (provider docs, "Scopes").
    if ((parsed.kind === 'level' || parsed.kind === 'addon') && !parsed.details && parsed.name) ctx.users.openCase(user.uid, parsed.name);
  }
  const code = ctx.tokens.issueCode(
    {
      clientID: request.client.clientID,
      redirectUri: request.redirectUri,
      uid: user.uid,
      scopes,
      ...(request.codeChallenge !== undefined && { codeChallenge: request.codeChallenge }),
      ...(request.codeChallengeMethod !== undefined && { codeChallengeMethod: request.codeChallengeMethod }),
    },
    ctx.clock.now(),
    ctx.lifetimes.code,
  );
  return redirectWith(request.redirectUri, { code, state: request.state });
}

/**
 * Scope narrowing (provider docs): the ticked requested scopes, plus the default `uid:read`, minus
 * the scopes reserved for the other user type. Order follows the request.
 */
export function grantedScopes(
  ctx: SandboxContext,
  requested: readonly string[],
  ticked: readonly string[] | undefined,
  userType: SandboxUserType,
): string[] {
  const kept = ticked === undefined ? [...requested] : requested.filter((s) => ticked.includes(s));
  if (!kept.includes(UID_SCOPE)) kept.unshift(UID_SCOPE);
  const reservedForOther = userType === 'person' ? ctx.institutionOnlyScopes : ctx.personOnlyScopes;
  return kept.filter((s) => !reservedForOther.has(s));
}

/** Appends parameters to a registered redirect URI, keeping its own query (RFC 6749 section 3.1.2). */
export function redirectWith(redirectUri: string, params: Record<string, string>): string {
  const query = new URLSearchParams(params).toString();
  if (!redirectUri.includes('?')) return `${redirectUri}?${query}`;
  return redirectUri.endsWith('?') || redirectUri.endsWith('&') ? redirectUri + query : `${redirectUri}&${query}`;
}
