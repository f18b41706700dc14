import express from 'express';
import session from 'express-session';
import passport from 'passport';
import request from 'supertest';
import { FractalStrategy, isFractalError } from '../lib';
import { startSandbox, type Sandbox } from '../lib/sandbox';
import { callbackPathOf } from './helpers/app';

/**
 * Issue 14 item 7: pending state is bound to the strategy that issued it. Two strategies on two
 * providers (two sandboxes) in one app: a state issued by A, delivered to B's callback, is refused
 * before B sends anything (code or PKCE verifier) to its token endpoint, and A can still finish.
 */

let sandboxA: Sandbox;
let sandboxB: Sandbox;
beforeAll(async () => {
  [sandboxA, sandboxB] = await Promise.all([startSandbox(), startSandbox()]);
});
afterAll(async () => {
  await Promise.all([sandboxA.close(), sandboxB.close()]);
});

function twoStrategyApp() {
  const auth = new passport.Passport();
  for (const [name, sandbox] of [
    ['fractal', sandboxA],
    ['fractal-b', sandboxB],
  ] as const) {
    const callbackURL = `http://127.0.0.1:3995/auth/${name}/callback`;
    const { clientID, clientSecret } = sandbox.registerClient({ redirectUris: [callbackURL] });
    auth.use(new FractalStrategy({ name, clientID, clientSecret, callbackURL, domains: sandbox.domains }, (_a, _r, _p, profile, done) => done(null, { id: profile.id })));
  }
  auth.serializeUser((user, done) => done(null, user));
  auth.deserializeUser((user: Express.User, done) => done(null, user));
  const app = express();
  app.use(session({ secret: 'binding-test', resave: false, saveUninitialized: false }));
  app.use(auth.session());
  for (const name of ['fractal', 'fractal-b']) {
    app.get(`/auth/${name}`, auth.authenticate(name));
    app.get(`/auth/${name}/callback`, (req, res, next) => {
      auth.authenticate(name, (err: unknown, user: Express.User | false, info: { code?: string } | undefined, status?: number) => {
        if (err) {
          res.status(isFractalError(err) ? err.status : 500).json({ outcome: 'error', code: isFractalError(err) ? err.code : 'unknown' });
        } else if (!user) {
          res.status(status ?? 401).json({ outcome: 'fail', code: info?.code });
        } else {
          req.logIn(user, () => res.json({ outcome: 'success', user }));
        }
      })(req, res, next);
    });
  }
  return app;
}

function exchanges(sandbox: Sandbox): number {
  const { token } = sandbox.counts();
  return token.authorization_code + token.failed;
}

describe('state bound to the strategy', () => {
  it("refuses strategy A's state at strategy B's callback without calling B's token endpoint; A still finishes", async () => {
    const agent = request.agent(twoStrategyApp());
    const start = await agent.get('/auth/fractal');
    expect(start.status).toBe(302);
    const location = new URL(await sandboxA.authorize(start.headers.location as string));
    const beforeB = exchanges(sandboxB);
    const wrong = await agent.get(`/auth/fractal-b/callback${location.search}`);
    expect(wrong.status).toBe(403);
    expect(wrong.body).toMatchObject({ outcome: 'fail', code: 'invalid_state' });
    expect(exchanges(sandboxB)).toBe(beforeB);

    const right = await agent.get(callbackPathOf(location.href));
    expect(right.body.outcome).toBe('success');
  });

  it('keeps each strategy to its own pending sign-ins when both are started in one session', async () => {
    const agent = request.agent(twoStrategyApp());
    const startA = await agent.get('/auth/fractal');
    const startB = await agent.get('/auth/fractal-b');
    const locationB = new URL(await sandboxB.authorize(startB.headers.location as string));
    const locationA = new URL(await sandboxA.authorize(startA.headers.location as string));
    const beforeA = exchanges(sandboxA);
    expect((await agent.get(`/auth/fractal/callback${locationB.search}`)).status).toBe(403);
    expect(exchanges(sandboxA)).toBe(beforeA);
    expect((await agent.get(`/auth/fractal-b/callback${locationB.search}`)).body.outcome).toBe('success');
    expect((await agent.get(`/auth/fractal/callback${locationA.search}`)).body.outcome).toBe('success');
  });

  it('refuses a state issued for another token endpoint even under the same strategy name (two passport instances, one session)', async () => {
    const app = express();
    app.use(session({ secret: 'binding-test', resave: false, saveUninitialized: false }));
    for (const [mount, sandbox] of [
      ['/a', sandboxA],
      ['/b', sandboxB],
    ] as const) {
      const auth = new passport.Passport();
      const callbackURL = `http://127.0.0.1:3995${mount}/callback`;
      const { clientID, clientSecret } = sandbox.registerClient({ redirectUris: [callbackURL] });
      auth.use(new FractalStrategy({ clientID, clientSecret, callbackURL, domains: sandbox.domains }, (_a, _r, _p, profile, done) => done(null, { id: profile.id })));
      auth.serializeUser((user, done) => done(null, user));
      auth.deserializeUser((user: Express.User, done) => done(null, user));
      app.get(`${mount}/start`, auth.authenticate('fractal'));
      app.get(`${mount}/callback`, (req, res, next) => {
        auth.authenticate('fractal', (err: unknown, user: Express.User | false, info: { code?: string } | undefined, status?: number) => {
          if (err) res.status(isFractalError(err) ? err.status : 500).json({ code: isFractalError(err) ? err.code : 'unknown' });
          else if (!user) res.status(status ?? 401).json({ code: info?.code });
          else res.json({ outcome: 'success' });
        })(req, res, next);
      });
    }
    const agent = request.agent(app);
    const start = await agent.get('/a/start');
    const location = new URL(await sandboxA.authorize(start.headers.location as string));
    const beforeB = exchanges(sandboxB);
    const wrong = await agent.get(`/b/callback${location.search}`);
    expect(wrong.status).toBe(403);
    expect(wrong.body.code).toBe('invalid_state');
    expect(exchanges(sandboxB)).toBe(beforeB);
    expect((await agent.get(`/a/callback${location.search}`)).body.outcome).toBe('success');
  });
});
