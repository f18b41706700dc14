import express from 'express';
import session from 'express-session';
import passport from 'passport';
import { startSandbox, type Sandbox } from '../lib/sandbox';
import { FractalStrategy, type FractalStrategyOptions } from '../lib';
import { buildApp, callbackPathOf, finishSignIn, newAgent, startSignIn } from './helpers/app';

let sandbox: Sandbox;

beforeAll(async () => {
  sandbox = await startSandbox();
});

afterAll(async () => {
  await sandbox.close();
});

beforeEach(() => {
  sandbox.clearFaults();
  sandbox.setClockSkew(0);
});

function sessionCookie(res: { headers: Record<string, unknown> }): string | undefined {
  const cookies = res.headers['set-cookie'] as string[] | undefined;
  return cookies?.find((c) => c.startsWith('sid='))?.split(';')[0];
}

describe('sign-in through the sandbox', () => {
  it('redirects to the frontend origin with every documented parameter and an S256 PKCE challenge', async () => {
    const { app, clientID, callbackURL } = buildApp(sandbox);
    const url = new URL(await startSignIn(newAgent(app)));
    expect(url.origin + url.pathname).toBe(`${sandbox.domains.frontend}/authorize`);
    expect(url.searchParams.get('client_id')).toBe(clientID);
    expect(url.searchParams.get('redirect_uri')).toBe(callbackURL);
    expect(url.searchParams.get('response_type')).toBe('code');
    expect(url.searchParams.get('scope')).toBe('uid:read');
    expect(url.searchParams.get('state')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(url.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.has('ensure_wallet')).toBe(false);
  });

  it('completes a full login: code exchange, profile, verify, session regenerated', async () => {
    const { app, verified } = buildApp(sandbox, { strategy: { scope: 'uid:read contact:read verification.basic:read' } });
    const agent = newAgent(app);
    const before = sandbox.counts();
    const start = await agent.get('/auth/fractal');
    const cookieBefore = sessionCookie(start);
    const res = await finishSignIn(agent, sandbox, start.headers.location as string, { email: 'full-login@example.com' });

    expect(res.status).toBe(200);
    expect(res.body.outcome).toBe('success');
    const [accessToken, refreshToken, params, profile] = verified[0]!;
    expect(typeof accessToken).toBe('string');
    expect(typeof refreshToken).toBe('string');
    expect(params.token_type.toLowerCase()).toBe('bearer');
    expect(params.tokenSet.accessToken).toBe(accessToken);
    expect(params.tokenSet.expiresAt).toBeGreaterThan(Date.now() + 7000 * 1000);
    expect(params.grantedScopes).toEqual(expect.arrayContaining(['uid:read', 'contact:read', 'verification.basic:read']));
    expect(params.deniedScopes).toEqual([]);
    expect(profile.provider).toBe('fractal');
    expect(profile.id).toBe(res.body.user.id);
    expect(profile.emails?.[0]?.value).toBe('full-login@example.com');
    expect(profile.verificationCases.map((c) => c.level)).toContain('basic');
    // passport 0.7 regenerates the session at login (against fixation).
    expect(sessionCookie(res)).toBeDefined();
    expect(sessionCookie(res)).not.toBe(cookieBefore);
    const me = await agent.get('/me');
    expect(me.body.user).toEqual({ id: profile.id });
    // Exactly one code exchange and one profile request reached the provider.
    const after = sandbox.counts();
    expect(after.token.authorization_code - before.token.authorization_code).toBe(1);
    expect(after.userinfo - before.userinfo).toBe(1);
  });

  it('lets a user with two tabs finish both sign-ins, in either order', async () => {
    const { app } = buildApp(sandbox);
    const agent = newAgent(app);
    const tabA = await startSignIn(agent);
    const tabB = await startSignIn(agent);
    expect((await agent.get('/me')).body.pending).toBe(2);

    const second = await finishSignIn(agent, sandbox, tabB);
    expect(second.body.outcome).toBe('success');
    // Tab A's pending sign-in survived the session regeneration of tab B's login.
    expect((await agent.get('/me')).body.pending).toBe(1);
    const first = await finishSignIn(agent, sandbox, tabA);
    expect(first.body.outcome).toBe('success');
    expect((await agent.get('/me')).body.pending).toBe(0);
  });

  it('evicts the oldest pending sign-in beyond maxPendingStates', async () => {
    const { app } = buildApp(sandbox, { strategy: { maxPendingStates: 2 } });
    const agent = newAgent(app);
    const oldest = await startSignIn(agent);
    await startSignIn(agent);
    await startSignIn(agent);
    expect((await agent.get('/me')).body.pending).toBe(2);
    const res = await finishSignIn(agent, sandbox, oldest);
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('invalid_state');
  });

  it('carries a safe returnTo and the granted scopes into req.authInfo', async () => {
    const { app } = buildApp(sandbox);
    const agent = newAgent(app);
    const res = await finishSignIn(agent, sandbox, await startSignIn(agent, '/auth/fractal?returnTo=%2Fkyc%3Fstep%3D2'));
    expect(res.body.authInfo.fractal).toMatchObject({ returnTo: '/kyc?step=2', grantedScopes: ['uid:read'], deniedScopes: [] });
  });

  it('drops an off-site returnTo instead of redirecting there later', async () => {
    const { app } = buildApp(sandbox);
    const agent = newAgent(app);
    const res = await finishSignIn(agent, sandbox, await startSignIn(agent, '/auth/fractal?returnTo=%2F%2Fevil.example'));
    expect(res.body.outcome).toBe('success');
    expect(res.body.authInfo.fractal.returnTo).toBeUndefined();
  });
});

describe('state', () => {
  it('never exchanges a replayed callback and leaves the logged-in session intact', async () => {
    const { app } = buildApp(sandbox);
    const agent = newAgent(app);
    const location = await sandbox.authorize(await startSignIn(agent));
    const first = await agent.get(callbackPathOf(location));
    expect(first.body.outcome).toBe('success');
    const before = sandbox.counts().token.authorization_code;
    // The signed-in browser that used it is sent to its page (the back button, issue 14 item 14).
    const replay = await agent.get(callbackPathOf(location));
    expect(replay.status).toBe(302);
    expect(replay.headers.location).toBe('/');
    // The replay never reached the token endpoint, and the user is still signed in.
    expect(sandbox.counts().token.authorization_code).toBe(before);
    expect((await agent.get('/me')).body.user).toEqual(first.body.user);
  });

  it('rejects a tampered state without consuming the genuine pending sign-in', async () => {
    const { app } = buildApp(sandbox);
    const agent = newAgent(app);
    const location = new URL(await sandbox.authorize(await startSignIn(agent)));
    const genuine = location.searchParams.get('state')!;
    location.searchParams.set('state', genuine.slice(0, -1) + (genuine.endsWith('A') ? 'B' : 'A'));
    const tampered = await agent.get(callbackPathOf(location.href));
    expect(tampered.status).toBe(403);
    expect(tampered.body.code).toBe('invalid_state');
    location.searchParams.set('state', genuine);
    expect((await agent.get(callbackPathOf(location.href))).body.outcome).toBe('success');
  });

  it('rejects a state that was issued to another session', async () => {
    const { app } = buildApp(sandbox);
    const victim = newAgent(app);
    const attacker = newAgent(app);
    await startSignIn(attacker);
    const location = await sandbox.authorize(await startSignIn(victim));
    const res = await attacker.get(callbackPathOf(location));
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('invalid_state');
    expect((await attacker.get('/me')).body.user).toBeNull();
  });

  it('rejects a callback without a session at all', async () => {
    const { app } = buildApp(sandbox);
    const location = await sandbox.authorize(await startSignIn(newAgent(app)));
    const res = await newAgent(app).get(callbackPathOf(location));
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('invalid_state');
  });

  it('rejects an expired pending sign-in', async () => {
    const { app } = buildApp(sandbox, { strategy: { stateTTL: 1 } });
    const agent = newAgent(app);
    const authorizeUrl = await startSignIn(agent);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const res = await finishSignIn(agent, sandbox, authorizeUrl);
    // The pre-login session expires with its state (issue 14 item 1): the state is gone with it.
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('invalid_state');
  });

  it.each([
    ['a repeated code', (q: URLSearchParams) => q.append('code', 'second')],
    ['a repeated state', (q: URLSearchParams) => q.append('state', 'second')],
    ['both code and error', (q: URLSearchParams) => q.set('error', 'access_denied')],
  ])('answers 400 invalid_callback to %s', async (_name, mutate) => {
    const { app } = buildApp(sandbox);
    const agent = newAgent(app);
    const location = new URL(await sandbox.authorize(await startSignIn(agent)));
    mutate(location.searchParams);
    const res = await agent.get(callbackPathOf(location.href));
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('invalid_callback');
  });

  it('answers 403 to a callback with a code but no state', async () => {
    const { app } = buildApp(sandbox);
    const res = await newAgent(app).get('/auth/fractal/callback?code=abc');
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('invalid_state');
  });
});

describe('PKCE', () => {
  it('can be turned off: no challenge is sent and sign-in still works', async () => {
    const { app } = buildApp(sandbox, { strategy: { pkce: false } });
    const agent = newAgent(app);
    const authorizeUrl = await startSignIn(agent);
    expect(new URL(authorizeUrl).searchParams.has('code_challenge')).toBe(false);
    expect((await finishSignIn(agent, sandbox, authorizeUrl)).body.outcome).toBe('success');
  });

  it('sends the verifier bound to the state: a code obtained for another tab fails at the provider', async () => {
    const { app } = buildApp(sandbox);
    const agent = newAgent(app);
    const tabA = new URL(await sandbox.authorize(await startSignIn(agent)));
    const tabB = new URL(await startSignIn(agent));
    // Tab B's valid state with tab A's code: the provider sees tab B's verifier for tab A's challenge.
    tabA.searchParams.set('state', tabB.searchParams.get('state')!);
    const res = await agent.get(callbackPathOf(tabA.href));
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ outcome: 'error', code: 'invalid_grant' });
  });
});

describe('ensure_wallet', () => {
  it('forwards a per-request wallet', async () => {
    const { app } = buildApp(sandbox, { strategy: { scope: 'uid:read verification.basic:read verification.wallet-eth:read' } });
    const agent = newAgent(app);
    const wallet = '0x52908400098527886E0F7030069857D2E4169EE7';
    const authorizeUrl = await startSignIn(agent, `/auth/fractal?wallet=${wallet}`);
    expect(new URL(authorizeUrl).searchParams.get('ensure_wallet')).toBe(wallet);
    const res = await finishSignIn(agent, sandbox, authorizeUrl, { email: 'wallet@example.com' });
    expect(res.body.authInfo.fractal.ensureWallet).toBe(wallet);
  });

  it('computes the wallet from the request with the ensureWallet option', async () => {
    const { app } = buildApp(sandbox, { strategy: { ensureWallet: (req) => (req.headers['x-wallet'] as string | undefined) ?? undefined } });
    const res = await newAgent(app).get('/auth/fractal').set('x-wallet', 'addr1qxy');
    expect(new URL(res.headers.location as string).searchParams.get('ensure_wallet')).toBe('addr1qxy');
  });

  it('answers 400 invalid_wallet before redirecting when the wallet is not printable ASCII', async () => {
    const { app } = buildApp(sandbox);
    const res = await newAgent(app).get('/auth/fractal?wallet=%E2%82%AC%0A');
    expect(res.status).toBe(400);
  });
});

describe('outcomes at the callback', () => {
  it('turns access_denied into a 403 failure without calling verify', async () => {
    const { app, verified } = buildApp(sandbox);
    const agent = newAgent(app);
    const res = await finishSignIn(agent, sandbox, await startSignIn(agent), { approve: false });
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ outcome: 'fail', code: 'access_denied' });
    expect(verified).toHaveLength(0);
  });

  it('turns other authorization errors into typed errors', async () => {
    const { app } = buildApp(sandbox);
    const agent = newAgent(app);
    const state = new URL(await startSignIn(agent)).searchParams.get('state')!;
    const res = await agent.get(`/auth/fractal/callback?error=temporarily_unavailable&error_description=down&state=${state}`);
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ outcome: 'error', code: 'temporarily_unavailable' });
  });

  it('reports narrowing to verify when the user unticks a scope and nothing is required', async () => {
    const scope = 'uid:read contact:read verification.basic:read';
    const { app, verified } = buildApp(sandbox, { strategy: { scope } });
    const agent = newAgent(app);
    const res = await finishSignIn(agent, sandbox, await startSignIn(agent), { grantScopes: ['uid:read', 'verification.basic:read'] });
    expect(res.body.outcome).toBe('success');
    const params = verified[0]![2];
    expect(params.deniedScopes).toEqual(['contact:read']);
    expect(params.grantedScopes).not.toContain('contact:read');
  });

  it('fails with insufficient_scope, and creates no session, when a required scope was not granted', async () => {
    const { app, verified } = buildApp(sandbox, {
      strategy: { scope: 'uid:read contact:read verification.basic:read', requiredScopes: ['verification.basic:read'] },
    });
    const agent = newAgent(app);
    const res = await finishSignIn(agent, sandbox, await startSignIn(agent), { grantScopes: ['uid:read', 'contact:read'] });
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ outcome: 'fail', code: 'insufficient_scope', missingScopes: ['verification.basic:read'] });
    expect(verified).toHaveLength(0);
    expect((await agent.get('/me')).body.user).toBeNull();
  });

  it('gives an institution only the scopes that apply to institutions', async () => {
    const typed = await startSandbox({
      personOnlyScopes: ['verification.plus:read'],
      institutionOnlyScopes: ['verification.basic:read'],
    });
    try {
      const scope = 'uid:read verification.plus:read verification.basic:read';
      const { app, verified } = buildApp(typed, { strategy: { scope } });
      const agent = newAgent(app);
      await finishSignIn(agent, typed, await startSignIn(agent), { userType: 'institution', email: 'corp@example.com' });
      await finishSignIn(agent, typed, await startSignIn(agent), { userType: 'person', email: 'person@example.com' });
      expect(verified[0]![2].grantedScopes).toContain('verification.basic:read');
      expect(verified[0]![2].deniedScopes).toEqual(['verification.plus:read']);
      expect(verified[1]![2].grantedScopes).toContain('verification.plus:read');
      expect(verified[1]![2].deniedScopes).toEqual(['verification.basic:read']);
    } finally {
      await typed.close();
    }
  });

  it('fails with invalid_grant when the code expired before the exchange', async () => {
    const { app } = buildApp(sandbox);
    const agent = newAgent(app);
    const location = await sandbox.authorize(await startSignIn(agent));
    sandbox.setClockSkew(11 * 60 * 1000); // the provider's clock passes the 10-minute code lifetime
    const res = await agent.get(callbackPathOf(location));
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ outcome: 'error', code: 'invalid_grant' });
  });

  it('fails with invalid_grant when a code is used a second time under a fresh state', async () => {
    const { app } = buildApp(sandbox, { strategy: { pkce: false } });
    const agent = newAgent(app);
    const used = new URL(await sandbox.authorize(await startSignIn(agent)));
    expect((await agent.get(callbackPathOf(used.href))).body.outcome).toBe('success');
    used.searchParams.set('state', new URL(await startSignIn(agent)).searchParams.get('state')!);
    const res = await agent.get(callbackPathOf(used.href));
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('invalid_grant');
    expect(res.body.message).not.toContain(used.searchParams.get('code'));
  });

  it('reports a token endpoint 5xx without an OAuth body as provider_unavailable', async () => {
    const { app } = buildApp(sandbox);
    const agent = newAgent(app);
    const location = await sandbox.authorize(await startSignIn(agent));
    sandbox.injectFault('token', { kind: 'status', status: 503, body: '<html>down</html>', contentType: 'text/html' });
    const res = await agent.get(callbackPathOf(location));
    expect(res.status).toBe(502);
    expect(res.body).toMatchObject({ outcome: 'error', code: 'provider_unavailable' });
  });

  it('times out a stalled token endpoint with provider_timeout', async () => {
    const { app } = buildApp(sandbox, { strategy: { timeoutMs: 150 } });
    const agent = newAgent(app);
    const location = await sandbox.authorize(await startSignIn(agent));
    sandbox.injectFault('token', { kind: 'delay', ms: 1500 });
    const started = Date.now();
    const res = await agent.get(callbackPathOf(location));
    expect(res.status).toBe(504);
    expect(res.body.code).toBe('provider_timeout');
    expect(Date.now() - started).toBeLessThan(1400);
  });

  it('reports a token response that is not JSON as invalid_provider_response', async () => {
    const { app } = buildApp(sandbox);
    const agent = newAgent(app);
    const location = await sandbox.authorize(await startSignIn(agent));
    sandbox.injectFault('token', { kind: 'invalid-json' });
    const res = await agent.get(callbackPathOf(location));
    expect(res.status).toBe(502);
    expect(res.body.code).toBe('invalid_provider_response');
  });

  it('reports wrong client credentials as invalid_client without echoing the secret', async () => {
    const { app, clientSecret } = buildApp(sandbox);
    sandbox.registerClient({ redirectUris: ['http://127.0.0.1:3999/auth/fractal/callback'] });
    const { app: wrong } = buildApp(sandbox, { strategy: { clientSecret: 'not-' + clientSecret } });
    void app;
    const agent = newAgent(wrong);
    const res = await finishSignIn(agent, sandbox, await startSignIn(agent));
    expect(res.body).toMatchObject({ outcome: 'error', code: 'invalid_client' });
    expect(JSON.stringify(res.body)).not.toContain(clientSecret);
  });

  it('reports a failing profile request as a typed error', async () => {
    const { app } = buildApp(sandbox);
    const agent = newAgent(app);
    const location = await sandbox.authorize(await startSignIn(agent));
    sandbox.injectFault('userinfo', { kind: 'status', status: 500, body: 'oops', contentType: 'text/plain' });
    const res = await agent.get(callbackPathOf(location));
    expect(res.status).toBe(502);
    expect(res.body.code).toBe('provider_unavailable');
  });

  it('skips the profile request with skipUserProfile', async () => {
    const { app } = buildApp(sandbox, {
      strategy: { skipUserProfile: true } as Partial<FractalStrategyOptions>,
      verify: (_a, _r, params, profile, done) => done(null, { id: profile === undefined ? 'no-profile' : 'profile', scopes: params.grantedScopes }),
    });
    const agent = newAgent(app);
    const before = sandbox.counts().userinfo;
    const res = await finishSignIn(agent, sandbox, await startSignIn(agent));
    expect(res.body.user.id).toBe('no-profile');
    expect(sandbox.counts().userinfo).toBe(before);
  });
});

describe('verify callback styles', () => {
  it('accepts a promise of the user', async () => {
    const { app } = buildApp(sandbox, { verify: async (_a, _r, _p, profile) => ({ id: `async-${profile.id}` }) });
    const agent = newAgent(app);
    const res = await finishSignIn(agent, sandbox, await startSignIn(agent));
    expect(res.body.user.id).toMatch(/^async-/);
  });

  it('turns a rejected promise into an error and false into a failure', async () => {
    const rejecting = buildApp(sandbox, { verify: async () => Promise.reject(Object.assign(new Error('db down'), { status: 503 })) });
    let agent = newAgent(rejecting.app);
    const err = await finishSignIn(agent, sandbox, await startSignIn(agent));
    expect(err.body).toMatchObject({ outcome: 'error', message: 'db down' });

    const refusing = buildApp(sandbox, { verify: async () => false });
    agent = newAgent(refusing.app);
    const fail = await finishSignIn(agent, sandbox, await startSignIn(agent));
    expect(fail.body.outcome).toBe('fail');
  });

  it('settles once when verify both calls done and returns a promise', async () => {
    let promiseSettled: () => void = () => undefined;
    const returned = new Promise<void>((resolve) => (promiseSettled = resolve));
    const { app, outcomes } = buildApp(sandbox, {
      verify: async (_a, _r, _p, profile, done) => {
        done(null, { id: 'from-done' });
        setImmediate(promiseSettled);
        return { id: `from-promise-${profile.id}` };
      },
    });
    const agent = newAgent(app);
    const res = await finishSignIn(agent, sandbox, await startSignIn(agent));
    expect(res.body.user).toEqual({ id: 'from-done' });
    // The returned promise has resolved by now too: it must not have reached passport a second time.
    await returned;
    await new Promise((resolve) => setImmediate(resolve));
    expect(outcomes).toEqual(['success']);
    expect((await agent.get('/me')).body.user).toEqual({ id: 'from-done' });
  });

  it('passes the request first with passReqToCallback', async () => {
    const seen: string[] = [];
    const { app } = buildApp(sandbox, {
      verifyWithRequest: (req, accessToken, _refreshToken, params, profile, done) => {
        seen.push(req.path, typeof accessToken, params.grantedScopes.join(' '));
        done(null, { id: profile.id });
      },
    });
    const agent = newAgent(app);
    const res = await finishSignIn(agent, sandbox, await startSignIn(agent));
    expect(res.body.outcome).toBe('success');
    expect(seen).toEqual(['/auth/fractal/callback', 'string', 'uid:read']);
  });
});

describe('configuration', () => {
  const base = { clientID: 'id', clientSecret: 'secret', callbackURL: 'https://app.example.com/cb' };
  const verify = () => undefined;

  it.each<[string, Partial<FractalStrategyOptions>, RegExp]>([
    ['a missing clientID', { clientID: '' }, /clientID/],
    ['a missing clientSecret', { clientSecret: undefined as unknown as string }, /clientSecret/],
    ['a relative callbackURL', { callbackURL: '/cb' }, /absolute URL/],
    ['an http callbackURL on a public host', { callbackURL: 'http://app.example.com/cb' }, /https/],
    ['a callbackURL with a fragment', { callbackURL: 'https://app.example.com/cb#x' }, /fragment/],
    ['an unknown scope', { scope: 'uid:read verification.gold:read' }, /Unknown Fractal ID scope/],
    ['an add-on without a level', { scope: ['uid:read', 'verification.liveness:read'] }, /without a KYC level/],
    ['a required scope that is not requested', { requiredScopes: ['contact:read'] }, /requiredScopes/],
    ['an http domain override on a public host', { domains: { auth: 'http://auth.example.com' } }, /https/],
    ['an unknown environment', { environment: 'dev' as never }, /Unknown environment/],
    ['a malformed ensureWallet', { ensureWallet: 'has space' }, /printable/],
  ])('rejects %s at construction', (_name, override, message) => {
    expect(() => new FractalStrategy({ ...base, ...override } as FractalStrategyOptions, verify)).toThrow(message);
    expect(() => new FractalStrategy({ ...base, ...override } as FractalStrategyOptions, verify)).toThrow(
      expect.objectContaining({ code: 'configuration_error' }),
    );
  });

  it('allows http on loopback callback URLs', () => {
    expect(() => new FractalStrategy({ ...base, callbackURL: 'http://localhost:3000/cb' }, verify)).not.toThrow();
  });

  it('uses the production origins by default and the staging ones on request', () => {
    expect(new FractalStrategy(base, verify).domains).toEqual({
      frontend: 'https://app.fractal.id',
      auth: 'https://auth.fractal.id',
      resource: 'https://resource.fractal.id',
    });
    expect(new FractalStrategy({ ...base, environment: 'staging' }, verify).domains).toEqual({
      frontend: 'https://app.staging.sandbox.fractal.id',
      auth: 'https://auth.staging.sandbox.fractal.id',
      resource: 'https://resource.staging.sandbox.fractal.id',
    });
  });

  it('points the authorization redirect at the environment frontend', async () => {
    const strategy = new FractalStrategy({ ...base, environment: 'staging' }, verify);
    const auth = new passport.Passport();
    auth.use(strategy);
    const app = express();
    app.use(session({ secret: 's', resave: false, saveUninitialized: false }));
    app.get('/login', auth.authenticate('fractal'));
    const res = await newAgent(app).get('/login');
    expect(res.headers.location).toMatch(/^https:\/\/app\.staging\.sandbox\.fractal\.id\/authorize\?/);
  });

  it('overrides one origin and keeps the others', () => {
    const strategy = new FractalStrategy({ ...base, domains: { auth: 'http://127.0.0.1:9/' } }, verify);
    expect(strategy.domains).toEqual({ frontend: 'https://app.fractal.id', auth: 'http://127.0.0.1:9', resource: 'https://resource.fractal.id' });
  });

  it('explains how to fix a missing session middleware', async () => {
    const strategy = new FractalStrategy(base, verify);
    const auth = new passport.Passport();
    auth.use(strategy);
    const app = express();
    app.get('/login', auth.authenticate('fractal'));
    app.use((err: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      void _next;
      res.status(500).json({ message: err.message });
    });
    const res = await newAgent(app).get('/login');
    expect(res.body.message).toMatch(/express-session/);
  });
});
