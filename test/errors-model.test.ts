import express from 'express';
import request from 'supertest';
import { ResourceErrorCode } from '../lib/client';
import { AuthorizationError, ERROR_TABLE, ErrorCode, ProviderError, StoreUnavailableError, TokenError } from '../lib/errors';
import { createFractalVault, decideSignedIn, generateEncryptionKey, MemoryTokenStore, type GuardDecider } from '../lib/tokens';
import { WebhookError, WebhookErrorCode } from '../lib/webhooks';

describe('one error model', () => {
  test('every code the library can raise has one status and one safe description in ERROR_TABLE', () => {
    const codes = [...Object.values(ErrorCode), ...Object.values(WebhookErrorCode), ...Object.values(ResourceErrorCode), 'server_error', 'temporarily_unavailable'];
    for (const code of codes) {
      expect(ERROR_TABLE).toHaveProperty([code]);
      expect(ERROR_TABLE[code]?.status).toBeGreaterThanOrEqual(400);
      expect(ERROR_TABLE[code]?.description).toMatch(/^[A-Z].{10,}$/);
    }
  });

  test('the authorization and token endpoint errors take their status from the one table', () => {
    for (const code of ['access_denied', 'invalid_grant', 'server_error', 'temporarily_unavailable', 'invalid_client']) {
      const expected = ERROR_TABLE[code]?.status ?? 500;
      expect(new AuthorizationError(code).status).toBe(expected);
      expect(new TokenError(code, undefined, undefined, 400).status).toBe(expected);
    }
    expect(new TokenError('invalid_grant', undefined, undefined, 400).status).toBe(400);
    expect(new AuthorizationError('server_error').status).toBe(502);
  });

  test('toJSON never shows message: StoreUnavailableError with a Redis address in its message', () => {
    const err = new StoreUnavailableError('Could not read the token record in Redis (connect ECONNREFUSED 10.1.2.3:6379)');
    expect(err.toJSON()).toEqual({ error: 'store_unavailable', error_description: 'The token store is unavailable; try again shortly' });
    expect(JSON.stringify(err)).not.toContain('10.1.2.3');
    expect(err.description).toBe(err.toJSON().error_description);
  });

  test('provider text wins as description; without it, the fixed text, never the message', () => {
    const withText = new ProviderError(ErrorCode.PROVIDER_UNAVAILABLE, 'token', 'POST https://auth.example/oauth/token answered 503', { description: 'maintenance' });
    expect(withText.toJSON()).toEqual({ error: 'provider_unavailable', error_description: 'maintenance' });
    const without = new ProviderError(ErrorCode.PROVIDER_TIMEOUT, 'token', 'POST https://auth.example/oauth/token timed out');
    expect(without.toJSON().error_description).toBe(ERROR_TABLE.provider_timeout?.description);
    expect(new WebhookError(WebhookErrorCode.HANDLER_FAILED, 'onEvent threw: db password wrong').toJSON().error_description).not.toContain('password');
  });
});

describe('a guard of your own: a decider plus the vault responder', () => {
  const store = new MemoryTokenStore();
  afterAll(() => store.close());
  const vault = createFractalVault({
    store,
    encryptionKeys: [generateEncryptionKey()],
    clientID: 'id',
    clientSecret: 'secret',
    userId: (req) => req.get('x-user') ?? undefined,
  });
  /** A KYC-like decider: signed in, then approved only for user "alice". */
  const kyc: GuardDecider = async (req, ctx) => {
    const signedIn = await decideSignedIn(ctx);
    if (signedIn) return signedIn;
    if (req.get('x-store-down')) throw new StoreUnavailableError('connect ECONNREFUSED 10.1.2.3:6379', undefined, 7);
    return ctx.userId === 'alice' ? { kind: 'allow' } : { kind: 'refuse', status: 403, error: 'kyc_required', description: 'Finish your KYC first' };
  };
  const app = express();
  app.use(vault.middleware());
  app.get('/kyc', vault.guard(kyc), (_req, res) => {
    res.json({ ok: true });
  });

  beforeAll(async () => {
    for (const uid of ['alice', 'bob']) {
      await vault.saveTokens(uid, { accessToken: `at-${uid}`, refreshToken: `rt-${uid}`, tokenType: 'bearer', expiresAt: Date.now() + 3_600_000, scopes: ['uid:read'] });
    }
  });

  test('allow lets the request through; refuse answers its status as JSON, or text for a browser', async () => {
    await request(app).get('/kyc').set('x-user', 'alice').expect(200, { ok: true });
    await request(app).get('/kyc').set('x-user', 'bob').set('Accept', 'application/json').expect(403, { error: 'kyc_required', error_description: 'Finish your KYC first' });
    const html = await request(app).get('/kyc').set('x-user', 'bob').set('Accept', 'text/html');
    expect(html.status).toBe(403);
    expect(html.text).toBe('Finish your KYC first');
  });

  test('signed out: the sign-in rules every guard shares (redirect for browsers, 401 for APIs)', async () => {
    const browser = await request(app).get('/kyc?x=1').set('Accept', 'text/html');
    expect(browser.status).toBe(302);
    expect(browser.headers.location).toBe('/auth/fractal?returnTo=%2Fkyc%3Fx%3D1');
    const api = await request(app).get('/kyc').set('Accept', 'application/json');
    expect(api.status).toBe(401);
    expect(api.body.error).toBe('authentication_required');
  });

  test('a decider that throws store_unavailable: 503 with its Retry-After and no trace of the message', async () => {
    const res = await request(app).get('/kyc').set('x-user', 'alice').set('x-store-down', '1').set('Accept', 'application/json');
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('7');
    expect(JSON.stringify(res.body)).not.toContain('10.1.2.3');
  });
});
