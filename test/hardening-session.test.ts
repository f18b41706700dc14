import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { startSandbox, type Sandbox } from '../lib/sandbox';
import { createFractalVault, MemoryTokenStore, type FractalVault } from '../lib';
import { buildApp, callbackPathOf, CALLBACK_PATH, newAgent, startSignIn, type TestApp } from './helpers/app';
import { cookieOf } from './helpers/hardening';

/**
 * Session hardening around sign-in: a cookie known before sign-in (planted by an attacker) is
 * worthless after it, logout really ends the session, and a state stolen from one session cannot
 * carry a code that was issued to another client.
 */

let sandbox: Sandbox;

beforeAll(async () => {
  sandbox = await startSandbox();
});
afterAll(() => sandbox.close());
beforeEach(() => sandbox.clearFaults());

/** What the app thinks of a request bearing exactly `cookie` (no cookie jar). */
async function asCookie(app: TestApp['app'], cookie: string): Promise<{ user: unknown; pending: number }> {
  const res = await request(app).get('/me').set('Cookie', cookie);
  return res.body as { user: unknown; pending: number };
}

describe('session fixation', () => {
  it('a session cookie planted before sign-in is not signed in afterwards', async () => {
    const { app } = buildApp(sandbox);
    // The attacker gets a session cookie from the app and plants it in the victim's browser.
    const attackerStart = await request(app).get('/auth/fractal');
    const planted = cookieOf(attackerStart.headers['set-cookie'], 'sid')!;
    expect(planted).toBeDefined();

    // The victim signs in carrying the planted cookie.
    const victimStart = await request(app).get('/auth/fractal').set('Cookie', planted);
    expect(victimStart.status).toBe(302);
    const location = await sandbox.authorize(victimStart.headers.location as string);
    const callback = await request(app).get(callbackPathOf(location)).set('Cookie', planted);
    expect(callback.body.outcome).toBe('success');
    const fresh = cookieOf(callback.headers['set-cookie'], 'sid')!;

    expect(fresh).toBeDefined();
    expect(fresh).not.toBe(planted);
    expect((await asCookie(app, fresh)).user).toEqual(callback.body.user);
    // The planted cookie names a destroyed session: the attacker is not signed in as the victim.
    expect((await asCookie(app, planted)).user).toBeNull();
  });

  it('the pre-login cookie cannot finish a second sign-in that the victim started in the same session', async () => {
    const { app } = buildApp(sandbox);
    const start1 = await request(app).get('/auth/fractal');
    const cookie = cookieOf(start1.headers['set-cookie'], 'sid')!;
    // Two tabs in the same (pre-login) session; tab 1 finishes first and the session id rotates.
    const start2 = await request(app).get('/auth/fractal').set('Cookie', cookie);
    const done1 = await request(app).get(callbackPathOf(await sandbox.authorize(start1.headers.location as string))).set('Cookie', cookie);
    expect(done1.body.outcome).toBe('success');
    // Tab 2's callback replayed with the OLD cookie (e.g. by whoever also holds it) is refused;
    // the pending sign-in moved to the new session only.
    const tab2 = callbackPathOf(await sandbox.authorize(start2.headers.location as string));
    const withOld = await request(app).get(tab2).set('Cookie', cookie);
    expect(withOld.status).toBe(403);
    expect(withOld.body.code).toBe('invalid_state');
    const fresh = cookieOf(done1.headers['set-cookie'], 'sid')!;
    expect((await asCookie(app, fresh)).pending).toBe(1);
  });
});

describe('logout', () => {
  let vault: FractalVault;
  let test: TestApp;

  beforeAll(() => {
    // The strategy's client must exist before the vault uses its credentials: buildApp registers it.
    let pendingVault: FractalVault | undefined;
    test = buildApp(sandbox, {
      verify: (_at, _rt, params, profile, done) => {
        pendingVault!
          .saveTokens(profile.id, params.tokenSet)
          .then(() => done(null, { id: profile.id }))
          .catch((err: unknown) => done(err as Error));
      },
    });
    vault = createFractalVault({
      store: new MemoryTokenStore(),
      encryptionKeys: randomBytes(32),
      clientID: test.clientID,
      clientSecret: test.clientSecret,
      domains: sandbox.domains,
    });
    pendingVault = vault;
    test.app.post('/logout', (req, res, next) => {
      vault.logout(req).then(() => res.status(204).end(), next);
    });
  });

  // test/vault-guard.test.ts covers logout through the same cookie jar; this one is about copies.
  it('after vault.logout, a copy of the signed-in cookie taken earlier (stolen) no longer authenticates, and a second logout with it is harmless', async () => {
    const agent = newAgent(test.app);
    const location = await sandbox.authorize(await startSignIn(agent));
    const callback = await agent.get(callbackPathOf(location));
    expect(callback.body.outcome).toBe('success');
    const userId = (callback.body.user as { id: string }).id;
    const stolen = cookieOf(callback.headers['set-cookie'], 'sid')!;
    expect((await asCookie(test.app, stolen)).user).toEqual({ id: userId });

    // The user logs out in their own browser (the agent's jar).
    expect((await agent.post('/logout')).status).toBe(204);

    expect((await asCookie(test.app, stolen)).user).toBeNull();
    expect(await vault.getTokenSet(userId)).toBeNull();
    const again = await request(test.app).post('/logout').set('Cookie', stolen);
    expect(again.status).toBe(204);
    // Signing in again yields a session id other than the logged-out one.
    const next = await agent.get(callbackPathOf(await sandbox.authorize(await startSignIn(agent))));
    expect(next.body.outcome).toBe('success');
    expect(cookieOf(next.headers['set-cookie'], 'sid')).not.toBe(stolen);
  });
});

describe('a state stolen from one session with a code issued to another client', () => {
  it('fails at the token endpoint with invalid_grant and signs nobody in', async () => {
    const victimApp = buildApp(sandbox);
    // The attacker runs their own registered client at Fractal ID, with the same redirect URI.
    const attackerClient = sandbox.registerClient({ redirectUris: [victimApp.callbackURL], name: 'Attacker app' });

    const victim = newAgent(victimApp.app);
    const victimAuthorize = new URL(await startSignIn(victim));
    const stolenState = victimAuthorize.searchParams.get('state')!;

    // The attacker's code: issued to THEIR client, even with the victim's own PKCE challenge copied,
    // so only the provider's binding of codes to clients can stop it.
    const attackerAuthorize = new URL(victimAuthorize.href);
    attackerAuthorize.searchParams.set('client_id', attackerClient.clientID);
    attackerAuthorize.searchParams.set('state', 'attacker');
    const attackerCode = new URL(await sandbox.authorize(attackerAuthorize.href, { email: 'attacker@example.com' })).searchParams.get('code')!;
    expect(attackerCode).toBeTruthy();

    const before = sandbox.counts();
    const res = await victim.get(`${CALLBACK_PATH}?${new URLSearchParams({ code: attackerCode, state: stolenState })}`);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ outcome: 'error', code: 'invalid_grant' });
    expect((await victim.get('/me')).body.user).toBeNull();
    const after = sandbox.counts();
    // Exactly one exchange reached the provider, and it failed.
    expect(after.token.failed - before.token.failed).toBe(1);
    expect(after.token.authorization_code - before.token.authorization_code).toBe(0);
    expect(after.userinfo - before.userinfo).toBe(0);
    // The state was consumed by the attempt: the same pair cannot be retried.
    const again = await victim.get(`${CALLBACK_PATH}?${new URLSearchParams({ code: attackerCode, state: stolenState })}`);
    expect(again.status).toBe(403);
    expect(again.body.code).toBe('invalid_state');
  });

  it('the same code stays usable by the client it was issued to (the failure above is client binding, not a spent code)', async () => {
    const victimApp = buildApp(sandbox, { strategy: { pkce: false } });
    const attackerApp = buildApp(sandbox, { strategy: { pkce: false } });
    const victim = newAgent(victimApp.app);
    const attacker = newAgent(attackerApp.app);
    const stolenState = new URL(await startSignIn(victim)).searchParams.get('state')!;
    const attackerLocation = new URL(await sandbox.authorize(await startSignIn(attacker), { email: 'attacker2@example.com' }));
    const attackerCode = attackerLocation.searchParams.get('code')!;

    const injected = await victim.get(`${CALLBACK_PATH}?${new URLSearchParams({ code: attackerCode, state: stolenState })}`);
    expect(injected.body).toMatchObject({ outcome: 'error', code: 'invalid_grant' });
    // Per RFC 6749 §4.1.2 a provider MAY revoke a code after a failed use; the sandbox keeps it
    // for its own client, which shows the refusal above came from the client check.
    const own = await attacker.get(callbackPathOf(attackerLocation.href));
    expect(own.body.outcome).toBe('success');
  });
});

describe('pending sign-ins per session', () => {
  it('a flood of sign-in starts keeps at most the default 10 pending states and only the newest ones', async () => {
    const { app } = buildApp(sandbox);
    const agent = newAgent(app);
    const states: string[] = [];
    for (let i = 0; i < 60; i++) states.push(new URL(await startSignIn(agent)).searchParams.get('state')!);
    expect((await agent.get('/me')).body.pending).toBe(10);
    // The ten newest survive, the fifty oldest are gone.
    const oldest = await agent.get(`${CALLBACK_PATH}?${new URLSearchParams({ code: 'x', state: states[0]! })}`);
    expect(oldest.status).toBe(403);
    expect(oldest.body.code).toBe('invalid_state');
    const newest = await agent.get(`${CALLBACK_PATH}?${new URLSearchParams({ code: 'not-a-code', state: states[59]! })}`);
    // The newest state is still pending: it passes the state check and fails only at the provider.
    expect(newest.body).toMatchObject({ outcome: 'error', code: 'invalid_grant' });
  });
});

describe('callback size limits', () => {
  it('a parameter over 4 KiB is refused with 400 invalid_callback without spending the pending sign-in', async () => {
    const { app } = buildApp(sandbox);
    const agent = newAgent(app);
    const authorizeUrl = await startSignIn(agent);
    const state = new URL(authorizeUrl).searchParams.get('state')!;
    const oversizedQueries: Record<string, string>[] = [{ code: 'c'.repeat(4097), state }, { error: 'access_denied', error_description: 'd'.repeat(4097), state }];
    for (const oversized of oversizedQueries) {
      const res = await agent.get(`${CALLBACK_PATH}?${new URLSearchParams(oversized)}`);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ outcome: 'fail', code: 'invalid_callback' });
    }
    expect((await agent.get('/me')).body.pending).toBe(1);
    const location = await sandbox.authorize(authorizeUrl);
    expect((await agent.get(callbackPathOf(location))).body.outcome).toBe('success');
  });

  it("a callback URL beyond Node's 16 KiB header limit gets 431 from the HTTP server, which keeps serving", async () => {
    const { app } = buildApp(sandbox);
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const res = await request(server).get(`${CALLBACK_PATH}?${new URLSearchParams({ code: 'c'.repeat(20_000), state: 's' })}`);
      expect(res.status).toBe(431);
      expect((await request(server).get('/me')).status).toBe(200);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
