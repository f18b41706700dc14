import { startSandbox, type Sandbox } from '../lib/sandbox';
import {
  authorizeUrl,
  codeOf,
  exchangeCode,
  pkcePair,
  refreshRequest,
  registerTestClient,
  resourceGet,
  signIn,
  tokenRequest,
  type TestClient,
} from './helpers/sandbox';

describe('sandbox token endpoint (auth origin)', () => {
  let sandbox: Sandbox;
  let client: TestClient;

  beforeAll(async () => {
    sandbox = await startSandbox({ institutionOnlyScopes: ['verification.plus:read'], personOnlyScopes: ['verification.selfie:read'] });
    client = registerTestClient(sandbox);
  });
  afterAll(() => sandbox.close());
  afterEach(() => {
    sandbox.setTokenLifetimes({ accessToken: 7200, refreshToken: 30 * 24 * 3600, code: 600 });
    sandbox.setClockSkew(0);
  });

  const codeFor = async (params: Record<string, string> = {}, target: TestClient = client) =>
    codeOf(await sandbox.authorize(authorizeUrl(sandbox, target, params)));

  describe('authorization_code grant', () => {
    it('answers with Doorkeeper\'s token response shape and no-store headers', async () => {
      const before = Math.floor(Date.now() / 1000);
      const res = await exchangeCode(sandbox, client, await codeFor({ scope: 'uid:read contact:read' }));
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('pragma')).toBe('no-cache');
      expect(Object.keys(res.body).sort()).toEqual(['access_token', 'created_at', 'expires_in', 'refresh_token', 'scope', 'token_type']);
      expect(res.body).toMatchObject({ token_type: 'bearer', expires_in: 7200, scope: 'uid:read contact:read' });
      expect(res.body.access_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(res.body.refresh_token).not.toBe(res.body.access_token);
      expect(res.body.created_at).toBeGreaterThanOrEqual(before);
      expect(res.body.created_at).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000));
    });

    it('accepts client authentication by HTTP Basic', async () => {
      const code = await codeFor();
      const res = await tokenRequest(sandbox, { grant_type: 'authorization_code', code, redirect_uri: client.redirectUri }, { basic: client });
      expect(res.status).toBe(200);
    });

    it('rejects a reused code with invalid_grant and revokes the tokens it produced', async () => {
      const code = await codeFor();
      const first = await exchangeCode(sandbox, client, code);
      expect(first.status).toBe(200);
      const second = await exchangeCode(sandbox, client, code);
      expect(second.status).toBe(400);
      expect(second.body.error).toBe('invalid_grant');
      expect((await resourceGet(sandbox, '/v2/users/me', first.body.access_token as string)).status).toBe(401);
    });

    it('rejects an expired code with invalid_grant', async () => {
      sandbox.setTokenLifetimes({ code: 0 });
      const res = await exchangeCode(sandbox, client, await codeFor());
      expect(res).toMatchObject({ status: 400, body: { error: 'invalid_grant', error_description: 'The authorization code expired.' } });
    });

    it('expires codes on the sandbox clock', async () => {
      const code = await codeFor();
      sandbox.setClockSkew(601_000);
      expect((await exchangeCode(sandbox, client, code)).body.error).toBe('invalid_grant');
    });

    it('rejects an unknown code and a code issued to another client with invalid_grant', async () => {
      expect((await exchangeCode(sandbox, client, 'made-up')).body.error).toBe('invalid_grant');
      const other = registerTestClient(sandbox);
      const code = await codeFor({}, other);
      const res = await exchangeCode(sandbox, client, code);
      expect(res).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
      // The code was not consumed by the failed attempt.
      expect((await exchangeCode(sandbox, other, code)).status).toBe(200);
    });

    it('rejects a wrong secret or unknown client with 401 invalid_client and a Basic challenge', async () => {
      const code = await codeFor();
      for (const extra of [{ client_secret: 'wrong' }, { client_id: 'unknown' }, { client_secret: '' }] as Record<string, string>[]) {
        const res = await exchangeCode(sandbox, client, code, extra);
        expect(res.status).toBe(401);
        expect(res.body).toEqual({ error: 'invalid_client', error_description: expect.any(String) });
        expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
      }
      const basic = await tokenRequest(sandbox, { grant_type: 'authorization_code', code, redirect_uri: client.redirectUri }, { basic: { ...client, clientSecret: 'x' } });
      expect(basic.status).toBe(401);
      expect((await exchangeCode(sandbox, client, code)).status).toBe(200);
    });

    it('rejects two client authentication methods at once with invalid_request', async () => {
      const res = await tokenRequest(
        sandbox,
        { grant_type: 'authorization_code', code: await codeFor(), redirect_uri: client.redirectUri, client_secret: client.clientSecret },
        { basic: client },
      );
      expect(res).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    });

    it('rejects a redirect_uri that differs from the authorization request with invalid_grant', async () => {
      const code = await codeFor();
      expect((await exchangeCode(sandbox, client, code, { redirect_uri: `${client.redirectUri}?x=1` })).body.error).toBe('invalid_grant');
      const missing = await tokenRequest(sandbox, { grant_type: 'authorization_code', code, client_id: client.clientID, client_secret: client.clientSecret });
      expect(missing.body.error).toBe('invalid_request');
      expect((await exchangeCode(sandbox, client, code)).status).toBe(200);
    });

    describe('PKCE (RFC 7636)', () => {
      it('issues tokens for the right S256 verifier', async () => {
        const { verifier, challenge } = pkcePair();
        const code = await codeFor({ code_challenge: challenge, code_challenge_method: 'S256' });
        expect((await exchangeCode(sandbox, client, code, { code_verifier: verifier })).status).toBe(200);
      });

      it('issues tokens for the right plain verifier', async () => {
        const { verifier } = pkcePair();
        const code = await codeFor({ code_challenge: verifier, code_challenge_method: 'plain' });
        expect((await exchangeCode(sandbox, client, code, { code_verifier: verifier })).status).toBe(200);
      });

      it('rejects a wrong or missing verifier with invalid_grant', async () => {
        const { challenge } = pkcePair();
        const code = await codeFor({ code_challenge: challenge, code_challenge_method: 'S256' });
        expect((await exchangeCode(sandbox, client, code, { code_verifier: pkcePair().verifier })).body.error).toBe('invalid_grant');
        expect((await exchangeCode(sandbox, client, code)).body.error).toBe('invalid_grant');
      });

      it('rejects a verifier when the authorization request had no challenge with invalid_request', async () => {
        const res = await exchangeCode(sandbox, client, await codeFor(), { code_verifier: pkcePair().verifier });
        expect(res).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
      });
    });
  });

  describe('scope narrowing', () => {
    it('grants only grantScopes of the requested scopes, always with uid:read', async () => {
      const token = await signIn(sandbox, client, {
        scope: 'contact:read verification.basic:read verification.basic.details:read',
        decision: { grantScopes: ['verification.basic:read'] },
      });
      expect(token.scope).toBe('uid:read verification.basic:read');
    });

    it('drops institution-only scopes for a person and person-only scopes for an institution', async () => {
      const scope = 'verification.basic:read verification.plus:read verification.selfie:read';
      const person = await signIn(sandbox, client, { scope, decision: { email: 'p@example.com', userType: 'person' } });
      expect(person.scope).toBe('uid:read verification.basic:read verification.selfie:read');
      const institution = await signIn(sandbox, client, { scope, decision: { email: 'i@example.com', userType: 'institution' } });
      expect(institution.scope).toBe('uid:read verification.basic:read verification.plus:read');
    });
  });

  describe('refresh_token grant with rotation', () => {
    it('keeps the old refresh token usable until the new access token is used, then answers invalid_grant', async () => {
      const first = await signIn(sandbox, client, { scope: 'contact:read' });
      const second = await refreshRequest(sandbox, client, first.refresh_token);
      expect(second.status).toBe(200);
      expect(second.body).toMatchObject({ token_type: 'bearer', scope: 'uid:read contact:read', expires_in: 7200 });
      expect(second.body.refresh_token).not.toBe(first.refresh_token);
      expect(second.body.access_token).not.toBe(first.access_token);

      // A crash before saving the new pair loses nothing: the old refresh token works again.
      const third = await refreshRequest(sandbox, client, first.refresh_token);
      expect(third.status).toBe(200);
      expect((await resourceGet(sandbox, '/v2/users/me', first.access_token)).status).toBe(200);

      // First use of a new access token revokes the pair it replaced.
      expect((await resourceGet(sandbox, '/v2/users/me', third.body.access_token as string)).status).toBe(200);
      expect(await refreshRequest(sandbox, client, first.refresh_token)).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
      const old = await resourceGet(sandbox, '/v2/users/me', first.access_token);
      expect(old.status).toBe(401);
      expect(old.body.error_description).toBe('The access token was revoked');

      // The sibling pair from the same old refresh token stays valid, as with Doorkeeper.
      expect((await refreshRequest(sandbox, client, second.body.refresh_token as string)).status).toBe(200);
    });

    it('rejects unknown, expired and other clients\' refresh tokens with invalid_grant', async () => {
      expect((await refreshRequest(sandbox, client, 'nope')).body.error).toBe('invalid_grant');
      const other = registerTestClient(sandbox);
      const token = await signIn(sandbox, client);
      expect((await refreshRequest(sandbox, other, token.refresh_token)).body.error).toBe('invalid_grant');
      sandbox.setTokenLifetimes({ refreshToken: 0 });
      const short = await signIn(sandbox, client);
      expect(await refreshRequest(sandbox, client, short.refresh_token)).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    });

    it('requires client authentication', async () => {
      const token = await signIn(sandbox, client);
      const res = await refreshRequest(sandbox, { ...client, clientSecret: 'wrong' }, token.refresh_token);
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('invalid_client');
    });

    it('may narrow the scope but never widen it (RFC 6749 section 6)', async () => {
      const token = await signIn(sandbox, client, { scope: 'contact:read' });
      expect((await refreshRequest(sandbox, client, token.refresh_token, { scope: 'uid:read' })).body.scope).toBe('uid:read');
      expect((await refreshRequest(sandbox, client, token.refresh_token, { scope: 'uid:read verification.basic:read' })).body.error).toBe('invalid_scope');
    });

    it('issues tokens with the lifetimes set by setTokenLifetimes', async () => {
      sandbox.setTokenLifetimes({ accessToken: 60 });
      const token = await signIn(sandbox, client);
      expect(token.expires_in).toBe(60);
    });
  });

  describe('client_credentials grant', () => {
    it('issues an app token for client.stats:read without a refresh token', async () => {
      const res = await tokenRequest(sandbox, { grant_type: 'client_credentials', scope: 'client.stats:read' }, { basic: client });
      expect(res.status).toBe(200);
      expect(Object.keys(res.body).sort()).toEqual(['access_token', 'created_at', 'expires_in', 'scope', 'token_type']);
      expect(res.body.scope).toBe('client.stats:read');
    });

    it('rejects any other scope with invalid_scope', async () => {
      for (const scope of ['uid:read', '', 'client.stats:read uid:read']) {
        const res = await tokenRequest(sandbox, { grant_type: 'client_credentials', scope }, { basic: client });
        expect(res).toMatchObject({ status: 400, body: { error: 'invalid_scope' } });
      }
    });
  });

  describe('malformed requests (RFC 6749 section 5.2)', () => {
    it('answers unsupported_grant_type for an unknown grant and invalid_request for a missing one', async () => {
      expect((await tokenRequest(sandbox, { grant_type: 'password' }, { basic: client })).body.error).toBe('unsupported_grant_type');
      expect((await tokenRequest(sandbox, {}, { basic: client })).body.error).toBe('invalid_request');
    });

    it('answers invalid_request for a JSON body or repeated parameters', async () => {
      const json = await fetch(`${sandbox.domains.auth}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ grant_type: 'client_credentials' }),
      });
      expect(json.status).toBe(400);
      expect(((await json.json()) as { error: string }).error).toBe('invalid_request');
      const repeated = await fetch(`${sandbox.domains.auth}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=client_credentials&grant_type=client_credentials',
      });
      expect(((await repeated.json()) as { error: string }).error).toBe('invalid_request');
    });

    it('does not serve the token endpoint on the resource origin', async () => {
      expect((await fetch(`${sandbox.domains.resource}/oauth/token`, { method: 'POST' })).status).toBe(404);
    });
  });

  describe('clock skew', () => {
    it('shifts created_at and expiries by the skew', async () => {
      sandbox.setClockSkew(-3_600_000);
      const token = await signIn(sandbox, client);
      expect(Math.abs((token.created_at as number) - (Math.floor(Date.now() / 1000) - 3600))).toBeLessThanOrEqual(1);
      sandbox.setClockSkew(7200 * 1000);
      // An hour behind when issued, two hours ahead now: three hours old, past the 2 h lifetime.
      const res = await resourceGet(sandbox, '/v2/users/me', token.access_token);
      expect(res).toMatchObject({ status: 401, body: { error: 'invalid_token', error_description: 'The access token expired' } });
    });
  });
});
