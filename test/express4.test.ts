import session from 'express-session';
import passport from 'passport';
import request from 'supertest';
import { FractalStrategy } from '../lib';
import { startSandbox, type Sandbox } from '../lib/sandbox';
import { callbackPathOf } from './helpers/app';

// Express 4 is still common in the wild; the strategy must work there too. `express4` is an npm
// alias of express@4 (dev dependency); Express 5's types describe it closely enough for this use.
const express4 = require('express4') as typeof import('express');

let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await startSandbox();
});
afterAll(async () => {
  await sandbox.close();
});

it('signs a user in on an Express 4 app, including a second tab that survives the login', async () => {
  const callbackURL = 'http://127.0.0.1:3999/auth/fractal/callback';
  const { clientID, clientSecret } = sandbox.registerClient({ redirectUris: [callbackURL] });
  const auth = new passport.Passport();
  auth.use(new FractalStrategy({ clientID, clientSecret, callbackURL, domains: sandbox.domains }, async (_a, _r, _p, profile) => ({ id: profile.id })));
  auth.serializeUser((user, done) => done(null, user));
  auth.deserializeUser((user: Express.User, done) => done(null, user));

  const app = express4();
  expect(require('express4/package.json').version).toMatch(/^4\./);
  app.use(session({ secret: 'express4', resave: false, saveUninitialized: false }));
  app.use(auth.session());
  app.get('/auth/fractal', auth.authenticate('fractal'));
  app.get('/auth/fractal/callback', auth.authenticate('fractal', { failureRedirect: '/failed' }), (req, res) => {
    res.json({ user: req.user, returnTo: req.authInfo?.fractal?.returnTo ?? null });
  });
  app.get('/failed', (_req, res) => {
    res.status(403).send('failed');
  });

  const agent = request.agent(app);
  const tabA = (await agent.get('/auth/fractal')).headers.location as string;
  const tabB = (await agent.get('/auth/fractal')).headers.location as string;
  const first = await agent.get(callbackPathOf(await sandbox.authorize(tabA, { email: 'express4@example.com' })));
  expect(first.status).toBe(200);
  expect(first.body.user.id).toEqual(expect.any(String));
  const second = await agent.get(callbackPathOf(await sandbox.authorize(tabB, { email: 'express4@example.com' })));
  expect(second.status).toBe(200);
  expect(second.body.user).toEqual(first.body.user);

  // A used state from a browser that is not signed in is refused through passport's failureRedirect;
  // the signed-in browser that used it is sent to its page instead (the back button, issue 14).
  const replay = callbackPathOf(await sandbox.authorize(tabB));
  const denied = await request.agent(app).get(replay);
  expect(denied.status).toBe(302);
  expect(denied.headers.location).toBe('/failed');
  const back = await agent.get(replay);
  expect(back.status).toBe(302);
  expect(back.headers.location).toBe('/');
});
