import request from 'supertest';
import { createApp } from '../example-app/app';
import { loadConfig } from '../example-app/config';
import { KycFeed } from '../example-app/kyc-feed';
import { startSandbox, type Sandbox } from '../lib/sandbox';
import { callbackPathOf } from './helpers/app';

// The example app signs a user in when /v2/users/me answers in the docs' minimal example shapes
// (sandbox `responseShape: 'minimal'`; FRACTAL_SANDBOX_RESPONSE_SHAPE=minimal in example-app/server.ts).

const BASE_URL = 'http://127.0.0.1:3997';
let sandbox: Sandbox;
let feed: KycFeed;
beforeAll(async () => {
  sandbox = await startSandbox({ responseShape: 'minimal' });
  feed = new KycFeed(undefined);
});
afterAll(async () => {
  feed.close();
  await sandbox.close();
});

it('signs in and shows the combined case, with no credential, on /profile', async () => {
  const config = loadConfig({ BASE_URL, SESSION_SECRET: 'x'.repeat(32), FRACTAL_SCOPES: 'uid:read contact:read verification.basic:read verification.liveness:read' });
  const { clientID, clientSecret } = sandbox.registerClient({ redirectUris: [`${BASE_URL}/auth/fractal/callback`] });
  const app = createApp({ config, clientID, clientSecret, domains: sandbox.domains, webhookSecret: 'example-webhook-secret', kycFeed: feed, log: () => undefined });
  const uid = sandbox.users.ensure({ email: 'minimal-app@example.com' }).uid;
  sandbox.users.setVerification(uid, 'basic', { status: 'done', credential: 'approved' });
  sandbox.users.setVerification(uid, 'liveness', { status: 'done', credential: 'approved' });

  const agent = request.agent(app);
  const authorize = await agent.get('/auth/fractal').set('accept', 'text/html');
  expect(authorize.status).toBe(302);
  const location = await sandbox.authorize(authorize.headers.location as string, { email: 'minimal-app@example.com' });
  const callback = await agent.get(callbackPathOf(location)).set('accept', 'text/html');
  expect(callback.status).toBe(302);
  expect(callback.headers.location).toBe('/profile');

  const profile = await agent.get('/profile');
  expect(profile.status).toBe(200);
  expect(profile.text).toContain('minimal-app@example.com');
  expect(profile.text).toMatch(/<td class="level">basic\+liveness<\/td><td class="status">approved<\/td><td class="credential">—<\/td>/);

  // The joined level covers basic (FRACTAL_KYC_LEVEL default), but without a `credential` the
  // legacy `status: "approved"` is never an approval: the decision fails closed.
  const kyc = await agent.get('/api/kyc');
  expect(kyc.status).toBe(200);
  expect(kyc.body).toMatchObject({ level: 'basic', status: 'pending' });
  const required = await agent.get('/api/kyc/required').set('accept', 'application/json');
  expect(required.status).toBe(403);
  expect(required.body).toMatchObject({ error: 'kyc_required', status: 'pending' });
});
