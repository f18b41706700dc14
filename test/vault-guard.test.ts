import express, { type Express } from 'express';
import session from 'express-session';
import request from 'supertest';
import { ErrorCode } from '../lib/errors';
import type { FractalVault } from '../lib/tokens';
import { expectSignInRedirect, expectUnauthorizedJson, monitorPrefix } from './helpers/vault-http';
import { expired } from './helpers/vault-sandbox';
import { setUpVaultEnv, type VaultEnv } from './helpers/vault-setup';

declare module 'express-session' {
  interface SessionData {
    uid?: string;
  }
}

const HTML = 'text/html,application/xhtml+xml;q=0.9,*/*;q=0.8';

/** An app that signs users in through a test-only route (the strategy is tested elsewhere). */
function buildApp(vault: FractalVault): Express {
  const app = express();
  app.use(session({ secret: 'vault-guard-test', resave: false, saveUninitialized: false }));
  app.post('/test-login/:uid', (req, res) => {
    req.session.uid = req.params.uid;
    res.sendStatus(204);
  });
  app.use(vault.middleware());
  app.get('/public', (_req, res) => {
    res.json({ ok: true });
  });
  app.get('/dashboard', vault.require(), async (req, res) => {
    const token = await req.fractal!.getAccessToken();
    const again = await req.fractal!.getAccessToken();
    res.json({ token, same: token === again, scopes: req.fractal!.grantedScopes, basic: await req.fractal!.hasScopes('verification.basic:read') });
  });
  app.post('/dashboard', vault.require(), (_req, res) => {
    res.sendStatus(204);
  });
  app.get('/kyc', vault.require({ scopes: ['verification.basic:read'] }), (_req, res) => {
    res.json({ ok: true });
  });
  app.get('/me', vault.require(), async (req, res) => {
    res.json(await req.fractal!.fetchUser());
  });
  app.post('/logout', async (req, res) => {
    await vault.logout(req);
    res.sendStatus(204);
  });
  return app;
}

describe('middleware and guard', () => {
  let t: VaultEnv;
  let vault: FractalVault;
  let app: Express;
  beforeAll(async () => {
    t = await setUpVaultEnv('guard');
    vault = t.vault({ userId: (req) => req.session?.uid });
    app = buildApp(vault);
  });
  afterAll(() => t.teardown());
  beforeEach(() => t.env.sandbox.resetCounts());

  async function signedIn(options: { expired?: boolean } = {}) {
    const { uid, tokenSet } = await t.env.signIn();
    await vault.saveTokens(uid, options.expired ? expired(tokenSet) : tokenSet);
    const agent = request.agent(app);
    await agent.post(`/test-login/${uid}`).expect(204);
    t.env.sandbox.resetCounts();
    return { uid, tokenSet, agent };
  }

  test('requests that never ask for a token cost no Redis round trip for tokens; one that asks twice costs one', async () => {
    // Another user's request first: the change channel's one-time PSUBSCRIBE (its own connection,
    // made on first use) lands outside the window measured below instead of racing into it.
    const warmUp = await signedIn();
    await warmUp.agent.get('/dashboard').set('Accept', 'application/json').expect(200);
    const { agent, tokenSet } = await signedIn();
    const monitor = await monitorPrefix(t.redis, t.prefix);
    try {
      await agent.get('/public').expect(200);
      await monitor.settle();
      expect(monitor.commands).toEqual([]);
      const res = await agent.get('/dashboard').set('Accept', 'application/json').expect(200);
      expect(res.body).toEqual({ token: tokenSet.accessToken, same: true, scopes: ['uid:read'], basic: false });
      await monitor.settle();
      expect(monitor.commands.map((c) => c[0]?.toLowerCase())).toEqual(['hmget']);
    } finally {
      monitor.stop();
    }
  });

  test('a browser without a user is redirected to sign-in, keeping where it wanted to go', async () => {
    const res = await request(app).get('/dashboard?tab=kyc').set('Accept', HTML);
    expectSignInRedirect(res, '/dashboard?tab=kyc');
  });

  test('an API client without a user gets 401 JSON and a WWW-Authenticate challenge', async () => {
    const res = await request(app).get('/dashboard').set('Accept', 'application/json');
    expectUnauthorizedJson(res, 'authentication_required');
    expect(res.headers['www-authenticate']).toBe('Bearer realm="fractal"');
  });

  test('a browser form POST without a user is sent to sign-in with 303 and no returnTo', async () => {
    const res = await request(app).post('/dashboard').set('Accept', HTML);
    expectSignInRedirect(res, undefined, 303);
  });

  test('an expired token is refreshed inside the request, transparently', async () => {
    const { agent, tokenSet } = await signedIn({ expired: true });
    const res = await agent.get('/dashboard').set('Accept', 'application/json').expect(200);
    expect(res.body.token).not.toBe(tokenSet.accessToken);
    expect(t.env.sandbox.counts().token.refresh_token).toBe(1);
  });

  test('missing scopes: 403 insufficient_scope with the scope in the challenge (RFC 6750 section 3.1)', async () => {
    const { agent } = await signedIn();
    const res = await agent.get('/kyc').set('Accept', 'application/json');
    expect(res.status).toBe(403);
    expect(res.body.error).toBe(ErrorCode.INSUFFICIENT_SCOPE);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="fractal", error="insufficient_scope", scope="verification.basic:read"');
  });

  test('fetchUser answers the typed /v2/users/me', async () => {
    const { agent, uid } = await signedIn();
    const res = await agent.get('/me').set('Accept', 'application/json').expect(200);
    expect(res.body.uid).toBe(uid);
  });

  test('a grant revoked at Fractal ID: one redirect to sign-in, tokens deleted, next visit simply signed out (no loop)', async () => {
    const { agent, uid } = await signedIn({ expired: true });
    t.env.sandbox.revokeGrant(uid);
    const first = await agent.get('/dashboard').set('Accept', HTML);
    expectSignInRedirect(first, '/dashboard');
    expect(await t.store.get(uid)).toBeNull();
    expect(t.env.sandbox.counts().token).toMatchObject({ refresh_token: 0, failed: 1 });

    const second = await agent.get('/dashboard').set('Accept', HTML);
    expectSignInRedirect(second, '/dashboard');
    // The second visit did not go back to the provider: nothing left to retry.
    expect(t.env.sandbox.counts().token.failed).toBe(1);
  });

  test('a grant revoked at Fractal ID, API client: 401 reauthentication_required with error="invalid_token"', async () => {
    const { agent, uid } = await signedIn({ expired: true });
    t.env.sandbox.revokeGrant(uid);
    const res = await agent.get('/dashboard').set('Accept', 'application/json');
    expectUnauthorizedJson(res, ErrorCode.REAUTHENTICATION_REQUIRED);
    expect(res.headers['www-authenticate']).toMatch(/error="invalid_token"/);
  });

  test('logout deletes the tokens and the session', async () => {
    const { agent, uid } = await signedIn();
    await agent.post('/logout').expect(204);
    expect(await t.store.get(uid)).toBeNull();
    // The session is gone: the same cookie is no longer signed in.
    const res = await agent.get('/dashboard').set('Accept', 'application/json');
    expectUnauthorizedJson(res, 'authentication_required');
  });
});
