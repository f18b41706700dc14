import express, { type Request, type Response, type Router } from 'express';
import { CLIENT_STATS_SCOPE, normalizeScopes } from '../../provider';
import { DESCRIPTIONS } from '../model/authorization-request';
import type { ClientRecord } from '../model/client-registry';
import { randomToken, s256, safeEqual } from '../crypto';
import type { SandboxContext } from '../model/context';
import type { IssuedToken } from '../model/grants';

/**
 * `POST /oauth/token` on the auth origin (RFC 6749 sections 4.1.3, 4.4, 6), behaving like
 * Doorkeeper with `use_refresh_token` and `revoke_previous_refresh_token_on_access_token`.
 */

type GrantType = 'authorization_code' | 'refresh_token' | 'client_credentials';

/** An RFC 6749 section 5.2 error answer. */
class TokenEndpointError {
  constructor(
    readonly error: string,
    readonly description: string,
    readonly status = 400,
  ) {}
}

const fail = (error: keyof typeof DESCRIPTIONS, description: string = DESCRIPTIONS[error]) => new TokenEndpointError(error, description);
/** RFC 7636 section 4.1. */
const CODE_VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;

export function tokenRouter(ctx: SandboxContext): Router {
  const router = express.Router();
  router.post(
    '/oauth/token',
    ctx.faults.middleware('token', () => {
      ctx.counts.token.failed += 1;
    }),
    express.raw({ type: () => true, limit: '64kb' }),
    (req: Request, res: Response) => {
      // RFC 6749 section 5.1: token answers must never be cached.
      res.set({ 'Cache-Control': 'no-store', Pragma: 'no-cache' });
      const outcome = handle(ctx, req);
      if (outcome instanceof TokenEndpointError) {
        ctx.counts.token.failed += 1;
        if (outcome.status === 401) res.set('WWW-Authenticate', 'Basic realm="Fractal ID sandbox"');
        res.status(outcome.status).json({ error: outcome.error, error_description: outcome.description });
        return;
      }
      ctx.counts.token[outcome.grantType] += 1;
      res.status(200).json(outcome.body);
    },
  );
  return router;
}

function handle(ctx: SandboxContext, req: Request): TokenEndpointError | { grantType: GrantType; body: Record<string, unknown> } {
  if (!req.is('application/x-www-form-urlencoded')) {
    return fail('invalid_request', 'The token request must be application/x-www-form-urlencoded (RFC 6749 section 4.1.3).');
  }
  const params = new URLSearchParams(Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '');
  for (const name of new Set(params.keys())) {
    if (params.getAll(name).length > 1) return fail('invalid_request', `The parameter ${name} is repeated (RFC 6749 section 3.2).`);
  }
  const grantType = params.get('grant_type');
  if (!grantType) return fail('invalid_request', 'Missing required parameter: grant_type.');
  if (grantType !== 'authorization_code' && grantType !== 'refresh_token' && grantType !== 'client_credentials') {
    return fail('unsupported_grant_type');
  }
  const client = authenticateClient(ctx, req, params);
  if (client instanceof TokenEndpointError) return client;
  const now = ctx.clock.now();
  let issued: IssuedToken | TokenEndpointError;
  switch (grantType) {
    case 'authorization_code':
      issued = exchangeCode(ctx, client, params, now);
      break;
    case 'refresh_token':
      issued = refresh(ctx, client, params, now);
      break;
    case 'client_credentials':
      issued = clientCredentials(ctx, client, params, now);
      break;
  }
  if (issued instanceof TokenEndpointError) return issued;
  return { grantType, body: tokenBody(issued, now) };
}

/**
 * Client authentication (RFC 6749 section 2.3.1): HTTP Basic or body parameters, not both.
 * Every failure is a 401 `invalid_client` with a `WWW-Authenticate` challenge (section 5.2).
 */
function authenticateClient(ctx: SandboxContext, req: Request, params: URLSearchParams): ClientRecord | TokenEndpointError {
  const invalidClient = new TokenEndpointError('invalid_client', DESCRIPTIONS.invalid_client, 401);
  const header = req.get('authorization');
  let clientID = params.get('client_id');
  let secret = params.get('client_secret');
  if (header !== undefined) {
    const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
    if (!match) return invalidClient;
    if (secret !== null) return fail('invalid_request', 'The request utilizes more than one mechanism for authenticating the client.');
    const decoded = Buffer.from(match[1] as string, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon === -1) return invalidClient;
    try {
      // Section 2.3.1: the ID and secret are form-urlencoded before base64.
      const basicID = formDecode(decoded.slice(0, colon));
      if (clientID !== null && clientID !== basicID) return invalidClient;
      clientID = basicID;
      secret = formDecode(decoded.slice(colon + 1));
    } catch {
      return invalidClient;
    }
  }
  if (!clientID || secret === null) return invalidClient;
  return ctx.clients.authenticate(clientID, secret) ?? invalidClient;
}

/** RFC 6749 section 4.1.3, with PKCE (RFC 7636 section 4.6) and one-time codes (section 4.1.2). */
function exchangeCode(ctx: SandboxContext, client: ClientRecord, params: URLSearchParams, now: number): IssuedToken | TokenEndpointError {
  const codeValue = params.get('code');
  if (!codeValue) return fail('invalid_request', 'Missing required parameter: code.');
  const redirectUri = params.get('redirect_uri');
  if (!redirectUri) return fail('invalid_request', 'Missing required parameter: redirect_uri.');
  const code = ctx.tokens.code(codeValue);
  if (!code || code.clientID !== client.clientID) return fail('invalid_grant');
  if (redirectUri !== code.redirectUri) {
    return fail('invalid_grant', 'The redirect_uri does not match the one of the authorization request (RFC 6749 section 4.1.3).');
  }
  const verifier = params.get('code_verifier');
  if (code.codeChallenge === undefined) {
    // RFC 9700 section 2.1.1: a verifier without a challenge is a PKCE downgrade attempt.
    if (verifier !== null) return fail('invalid_request', 'code_verifier was sent, but the authorization request had no code_challenge.');
  } else {
    if (!verifier) return fail('invalid_grant', 'The authorization request used PKCE: code_verifier is required.');
    const computed = code.codeChallengeMethod === 'S256' ? s256(verifier) : verifier;
    if (!CODE_VERIFIER.test(verifier) || !safeEqual(computed, code.codeChallenge)) {
      return fail('invalid_grant', 'The code_verifier does not match the code_challenge (RFC 7636 section 4.6).');
    }
  }
  // Checked last, like Doorkeeper: only a caller who proved possession of the code can make a
  // replay revoke what the code already produced (RFC 6749 section 4.1.2).
  if (code.used) {
    ctx.tokens.revokeFamily(code.family);
    return fail('invalid_grant', 'The authorization code was already used; the tokens issued for it are revoked.');
  }
  if (code.revoked) return fail('invalid_grant', 'The authorization was revoked.');
  if (now >= code.expiresAt) return fail('invalid_grant', 'The authorization code expired.');
  code.used = true;
  return ctx.tokens.issueToken(
    { family: code.family, clientID: client.clientID, uid: code.uid, scopes: code.scopes, withRefreshToken: true },
    now,
    ctx.lifetimes.accessToken,
    ctx.lifetimes.refreshToken,
  );
}

/**
 * RFC 6749 section 6 with rotation. The used refresh token is NOT revoked here: Doorkeeper's
 * `revoke_previous_refresh_token_on_access_token` revokes it when the new access token is first
 * used, so a client that crashed before saving the new pair can refresh again.
 */
function refresh(ctx: SandboxContext, client: ClientRecord, params: URLSearchParams, now: number): IssuedToken | TokenEndpointError {
  const refreshToken = params.get('refresh_token');
  if (!refreshToken) return fail('invalid_request', 'Missing required parameter: refresh_token.');
  const record = ctx.tokens.byRefreshToken(refreshToken);
  if (!record || record.clientID !== client.clientID) return fail('invalid_grant');
  if (record.revoked) return fail('invalid_grant', 'The refresh token was revoked.');
  if (record.refreshExpiresAt !== undefined && now >= record.refreshExpiresAt) return fail('invalid_grant', 'The refresh token expired.');
  let scopes = record.scopes;
  const requested = params.get('scope');
  if (requested !== null && requested.trim() !== '') {
    // Section 6: a refresh may narrow the scope, never widen it.
    const narrowed = normalizeScopes(requested);
    if (!narrowed.every((s) => record.scopes.includes(s))) return fail('invalid_scope', 'A refresh cannot add scopes (RFC 6749 section 6).');
    scopes = narrowed;
  }
  return ctx.tokens.issueToken(
    {
      family: record.family,
      clientID: client.clientID,
      ...(record.uid !== undefined && { uid: record.uid }),
      scopes,
      withRefreshToken: true,
      ...(record.refreshHash !== undefined && { previousRefreshHash: record.refreshHash }),
    },
    now,
    ctx.lifetimes.accessToken,
    ctx.lifetimes.refreshToken,
  );
}

/** RFC 6749 section 4.4: app tokens for the statistics API only, without refresh token (section 4.4.3). */
function clientCredentials(ctx: SandboxContext, client: ClientRecord, params: URLSearchParams, now: number): IssuedToken | TokenEndpointError {
  const scopes = normalizeScopes(params.get('scope') ?? '');
  if (scopes.length !== 1 || scopes[0] !== CLIENT_STATS_SCOPE) {
    return fail('invalid_scope', `The client credentials grant accepts exactly scope=${CLIENT_STATS_SCOPE}.`);
  }
  return ctx.tokens.issueToken(
    { family: randomToken(16), clientID: client.clientID, scopes, withRefreshToken: false },
    now,
    ctx.lifetimes.accessToken,
    ctx.lifetimes.refreshToken,
  );
}

/** Doorkeeper's TokenResponse body; blank fields are omitted (no refresh_token for app tokens). */
function tokenBody(issued: IssuedToken, now: number): Record<string, unknown> {
  const { record } = issued;
  const body: Record<string, unknown> = {
    access_token: issued.accessToken,
    token_type: 'bearer',
    // Whole seconds, rounded up so that a sub-second test lifetime does not read as already expired.
    expires_in: Math.max(0, Math.ceil((record.expiresAt - now) / 1000)),
  };
  if (issued.refreshToken !== undefined) body.refresh_token = issued.refreshToken;
  body.scope = record.scopes.join(' ');
  body.created_at = Math.floor(record.createdAt / 1000);
  return body;
}

/** application/x-www-form-urlencoded decoding of one value. */
function formDecode(value: string): string {
  return decodeURIComponent(value.replace(/\+/g, ' '));
}
