import type { Request } from 'express';
import { startSandbox, type Sandbox } from '../lib/sandbox';
import type { FractalAuthenticateOptions } from '../lib';
import { buildApp, CALLBACK_PATH, callbackPathOf, finishSignIn, newAgent, startSignIn } from './helpers/app';

/**
 * Per-request options of `passport.authenticate('fractal', options)` (README "Per-request
 * options"; lib/strategy/strategy.ts `FractalAuthenticateOptions`), checked where they matter: in
 * the authorization request the sandbox receives, in the token exchange it accepts, and in what
 * the app gets back. One strategy serves every request, so an option must never leak into the next.
 */
let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await startSandbox();
});
afterAll(() => sandbox.close());

const BASIC = 'uid:read verification.basic:read';
const WALLET = '0x52908400098527886E0F7030069857D2E4169EE7';

/** The start route uses `perRequest` when the request carries `?per=1`, the strategy's defaults otherwise. */
type AppOptions = NonNullable<Parameters<typeof buildApp>[1]>;

function appWith(perRequest: (req: Request) => FractalAuthenticateOptions, strategy: AppOptions['strategy'] = {}, extra: AppOptions = {}) {
  return buildApp(sandbox, { strategy, authenticateOptions: (req) => (req.query.per === '1' ? perRequest(req) : {}), ...extra });
}

describe('per-request options', () => {
  it('scope: this request asks for its own scopes, validated, and the next request gets the strategy’s again', async () => {
    const { app, verified } = appWith(() => ({ scope: ['uid:read', 'verification.plus:read', 'verification.basic:read'] }), { scope: BASIC });
    const agent = newAgent(app);
    const authorizeUrl = await startSignIn(agent, '/auth/fractal?per=1');
    expect(new URL(authorizeUrl).searchParams.get('scope')?.split(' ').sort()).toEqual(['uid:read', 'verification.basic:read', 'verification.plus:read']);
    const res = await finishSignIn(agent, sandbox, authorizeUrl);
    expect(res.body.outcome).toBe('success');
    expect(verified.at(-1)?.[2]).toMatchObject({ requestedScopes: expect.arrayContaining(['verification.plus:read']) });
    expect(res.body.authInfo.fractal.grantedScopes).toContain('verification.plus:read');

    const plain = new URL(await startSignIn(newAgent(app)));
    expect(plain.searchParams.get('scope')).toBe(BASIC);
  });

  it('scope: an unknown scope or one that leaves out a required scope is refused before any redirect', async () => {
    for (const scope of ['uid:read verification.gold:read', 'uid:read']) {
      const { app } = appWith(() => ({ scope }), { scope: BASIC, requiredScopes: ['verification.basic:read'] });
      const before = sandbox.counts().authorize;
      const res = await newAgent(app).get('/auth/fractal?per=1');
      expect(res.status).toBe(500);
      expect(res.headers.location).toBeUndefined();
      expect(res.text).toMatch(/Unknown Fractal ID scope|leave out required scopes/);
      expect(sandbox.counts().authorize).toBe(before);
    }
  });

  it('ensureWallet: overrides the strategy’s for this request only, and a malformed one is refused', async () => {
    const { app } = appWith(() => ({ ensureWallet: WALLET }), { scope: 'uid:read verification.basic:read verification.wallet-eth:read', ensureWallet: () => '0xdefault' });
    const agent = newAgent(app);
    const authorizeUrl = await startSignIn(agent, '/auth/fractal?per=1');
    expect(new URL(authorizeUrl).searchParams.get('ensure_wallet')).toBe(WALLET);
    const res = await finishSignIn(agent, sandbox, authorizeUrl);
    expect(res.body.authInfo.fractal.ensureWallet).toBe(WALLET);
    expect(new URL(await startSignIn(newAgent(app))).searchParams.get('ensure_wallet')).toBe('0xdefault');

    const bad = appWith(() => ({ ensureWallet: 'has space' }));
    const refused = await newAgent(bad.app).get('/auth/fractal?per=1');
    expect(refused.status).toBe(400);
    expect(refused.headers.location).toBeUndefined();
  });

  it('returnTo: wins over the strategy’s, and comes back only to the sign-in that asked for it', async () => {
    const { app } = appWith(() => ({ returnTo: '/per-request?x=1' }), { returnTo: () => '/from-strategy' });
    const agent = newAgent(app);
    const withOption = await startSignIn(agent, '/auth/fractal?per=1');
    const without = await startSignIn(agent);
    // Two pending sign-ins in one session, finished in the opposite order.
    const second = await finishSignIn(agent, sandbox, without);
    expect(second.body.authInfo.fractal.returnTo).toBe('/from-strategy');
    const first = await finishSignIn(agent, sandbox, withOption);
    expect(first.body.authInfo.fractal.returnTo).toBe('/per-request?x=1');
  });

  it('appState: kept with the pending sign-in (never in the URL), given back to that sign-in only', async () => {
    const { app } = appWith((req) => ({ appState: { cart: String(req.query.cart), nested: { n: 1 } } }));
    const agent = newAgent(app);
    const a = await startSignIn(agent, '/auth/fractal?per=1&cart=a-secret-cart');
    const b = await startSignIn(agent, '/auth/fractal?per=1&cart=b');
    expect(a).not.toContain('a-secret-cart');
    const resB = await finishSignIn(agent, sandbox, b);
    expect(resB.body.authInfo.fractal.appState).toEqual({ cart: 'b', nested: { n: 1 } });
    const resA = await finishSignIn(agent, sandbox, a);
    expect(resA.body.authInfo.fractal.appState).toEqual({ cart: 'a-secret-cart', nested: { n: 1 } });
    const plain = newAgent(app);
    const resPlain = await finishSignIn(plain, sandbox, await startSignIn(plain));
    expect(resPlain.body.authInfo.fractal.appState).toBeUndefined();
  });

  it('callbackURL: the authorization request and the token exchange both use it (the sandbox enforces RFC 6749 section 4.1.3)', async () => {
    const alternate = `http://localhost:3999${CALLBACK_PATH}`;
    const { app, callbackURL } = appWith(() => ({ callbackURL: alternate }), {}, { extraRedirectUris: [alternate] });
    expect(callbackURL).not.toBe(alternate);
    const agent = newAgent(app);
    const authorizeUrl = await startSignIn(agent, '/auth/fractal?per=1');
    expect(new URL(authorizeUrl).searchParams.get('redirect_uri')).toBe(alternate);
    const location = await sandbox.authorize(authorizeUrl);
    expect(location.startsWith(`${alternate}?`)).toBe(true);
    const before = sandbox.counts().token;
    const res = await agent.get(callbackPathOf(location));
    expect(res.body.outcome).toBe('success');
    // The sandbox refuses an exchange whose redirect_uri differs from the authorization request's.
    expect(sandbox.counts().token).toMatchObject({ authorization_code: before.authorization_code + 1, failed: before.failed });
    expect(new URL(await startSignIn(newAgent(app))).searchParams.get('redirect_uri')).toBe(callbackURL);

    const bad = appWith(() => ({ callbackURL: 'https://app.example.com/cb#fragment' }));
    const refused = await newAgent(bad.app).get('/auth/fractal?per=1');
    expect(refused.status).toBe(500);
    expect(refused.headers.location).toBeUndefined();
  });

  it('state: refused (the strategy owns it), before any redirect; options are never written into', async () => {
    const { app } = appWith(() => ({ state: 'mine' }));
    const before = sandbox.counts().authorize;
    const res = await newAgent(app).get('/auth/fractal?per=1');
    expect(res.status).toBe(500);
    expect(res.text).toMatch(/appState/);
    expect(res.headers.location).toBeUndefined();
    expect(sandbox.counts().authorize).toBe(before);

    const frozen: FractalAuthenticateOptions = Object.freeze({ scope: BASIC, returnTo: '/frozen', appState: Object.freeze({ k: 'v' }) });
    const reused = appWith(() => frozen);
    const agent = newAgent(reused.app);
    const ok = await finishSignIn(agent, sandbox, await startSignIn(agent, '/auth/fractal?per=1'));
    expect(ok.body.authInfo.fractal).toMatchObject({ returnTo: '/frozen', appState: { k: 'v' } });
    expect(frozen).toEqual({ scope: BASIC, returnTo: '/frozen', appState: { k: 'v' } });
  });
});
