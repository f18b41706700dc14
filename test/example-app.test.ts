import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import request from 'supertest';
import { createApp } from '../example-app/app';
import { ConfigError, loadConfig } from '../example-app/config';
import { KycFeed } from '../example-app/kyc-feed';
import { SessionStreams } from '../example-app/streams';
import { MemoryTokenStore, signFractalWebhook, type TokenStore } from '../lib';
import { startSandbox, type Sandbox } from '../lib/sandbox';
import { callbackPathOf } from './helpers/app';
import { SHARED_REDIS } from './helpers/redis';

let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await startSandbox();
});
afterAll(async () => {
  await sandbox.close();
});

const BASE_URL = 'http://127.0.0.1:3998';

const WEBHOOK_SECRET = 'example-webhook-secret';
// Every app built here shares one feed per Redis client, closed at the end (it may hold a
// subscriber connection).
const feeds: KycFeed[] = [];
// Likewise the apps' stream registries: with Redis, each may hold a logout subscriber.
const streams: SessionStreams[] = [];
afterAll(() => {
  for (const feed of feeds) feed.close();
  for (const registry of streams) registry.close();
});

function exampleApp(env: NodeJS.ProcessEnv = {}, redis?: Redis, tokenStore?: TokenStore) {
  const config = loadConfig({ BASE_URL, SESSION_SECRET: 'x'.repeat(32), ...env });
  const { clientID, clientSecret } = sandbox.registerClient({ redirectUris: [`${BASE_URL}/auth/fractal/callback`] });
  const lines: string[] = [];
  const sessionStreams = new SessionStreams(redis ? { redis } : {});
  streams.push(sessionStreams);
  const app = createApp({
    config,
    sessionStreams,
    clientID,
    clientSecret,
    domains: sandbox.domains,
    webhookSecret: WEBHOOK_SECRET,
    kycFeed: feedFor(redis),
    ...(tokenStore ? { tokenStore } : {}),
    log: (l) => lines.push(l),
    ...(redis ? { redis } : {}),
  });
  closers.push(app.locals.closeFractal as () => Promise<void>);
  return { app, lines };
}
/** What each app's createFractal made, closed before its Redis client (waiting webhook done marks). */
const closers: (() => Promise<void>)[] = [];

const feedByClient = new Map<Redis | undefined, KycFeed>();
function feedFor(redis: Redis | undefined): KycFeed {
  let feed = feedByClient.get(redis);
  if (!feed) {
    feed = new KycFeed(redis);
    feedByClient.set(redis, feed);
    feeds.push(feed);
  }
  return feed;
}

function approvedWebhook(uid: string, level = 'basic'): string {
  return JSON.stringify({ type: 'verification_approved', data: { level, user_id: uid, timestamp: new Date().toISOString() } });
}

async function signIn(agent: ReturnType<typeof request.agent>, start = '/auth/fractal', decision = {}) {
  const authorize = await agent.get(start).set('accept', 'text/html');
  expect(authorize.status).toBe(302);
  return agent.get(callbackPathOf(await sandbox.authorize(authorize.headers.location as string, decision))).set('accept', 'text/html');
}

describe.each([
  ['in-memory sessions', false],
  ['Redis sessions (connect-redis + ioredis)', true],
])('example app with %s', (_name, useRedis) => {
  let redis: Redis | undefined;
  const prefix = `test:${randomBytes(6).toString('hex')}:`;

  beforeAll(() => {
    if (useRedis) redis = new Redis({ ...SHARED_REDIS, keyPrefix: prefix, enableOfflineQueue: true, maxRetriesPerRequest: 1 });
  });
  afterAll(async () => {
    await Promise.all(closers.splice(0).map((close) => close()));
    if (!redis) return;
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys.map((k) => k.slice(prefix.length)));
    redis.disconnect();
  });

  it('shows the home page with the verify button, a level choice and a wallet field', async () => {
    const { app } = exampleApp({}, redis);
    const res = await request(app).get('/');
    expect(res.status).toBe(200);
    expect(res.text).toContain('Verify with Fractal ID');
    expect(res.text).toMatch(/<select id="level" name="level">.*basic/);
    expect(res.text).toContain('name="wallet"');
    const css = await request(app).get('/style.css');
    expect(css.status).toBe(200);
    expect(css.headers['content-type']).toMatch(/text\/css/);
  });

  it('signs a user in and shows their uid, granted scopes, cases and wallet on /profile', async () => {
    const { app } = exampleApp({}, redis);
    const agent = request.agent(app);
    const wallet = '0x52908400098527886E0F7030069857D2E4169EE7';
    const res = await signIn(agent, `/auth/fractal?level=plus&wallet=${wallet}`, { email: 'example@example.com' });
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe('/profile');
    const profile = await agent.get('/profile');
    expect(profile.status).toBe(200);
    expect(profile.text).toMatch(/<dd id="uid"><code>[^<]+<\/code><\/dd>/);
    expect(profile.text).toContain('verification.plus:read');
    expect(profile.text).toContain('example@example.com');
    expect(profile.text).toMatch(/<td class="level">plus<\/td>/);
    expect(profile.text).toContain(wallet);
    // KEYS patterns are not prefixed by ioredis' keyPrefix.
    if (redis) expect((await redis.keys(`${prefix}example:sess:*`)).length).toBeGreaterThan(0);
  });

  it('shows which scopes were not granted when the user narrows the grant', async () => {
    const { app } = exampleApp({}, redis);
    const agent = request.agent(app);
    await signIn(agent, '/auth/fractal', { grantScopes: ['uid:read', 'verification.basic:read'] });
    const profile = await agent.get('/profile');
    expect(profile.text).toMatch(/id="denied-scopes">.*contact:read/s);
  });

  it('returns to a same-origin returnTo after sign-in', async () => {
    const { app } = exampleApp({}, redis);
    const res = await signIn(request.agent(app), '/auth/fractal?returnTo=%2Fprofile%3Ftab%3Dkyc');
    expect(res.headers.location).toBe('/profile?tab=kyc');
  });

  it('explains a denial in plain words with a way to try again, or as JSON when asked', async () => {
    const { app } = exampleApp({}, redis);
    const agent = request.agent(app);
    const page = await signIn(agent, '/auth/fractal', { approve: false });
    expect(page.status).toBe(403);
    expect(page.text).toContain('You chose not to share');
    expect(page.text).toContain('href="/"');

    const start = await agent.get('/auth/fractal');
    const json = await agent.get(callbackPathOf(await sandbox.authorize(start.headers.location as string, { approve: false }))).set('accept', 'application/json');
    expect(json.status).toBe(403);
    expect(json.body).toEqual({ error: 'access_denied', error_description: expect.stringContaining('chose not to share') });
  });

  it('refuses the grant when required scopes were unticked', async () => {
    const { app } = exampleApp({ FRACTAL_REQUIRED_SCOPES: 'verification.basic:read' }, redis);
    const agent = request.agent(app);
    const res = await signIn(agent, '/auth/fractal', { grantScopes: ['uid:read', 'contact:read'] });
    expect(res.status).toBe(403);
    expect(res.text).toContain('verification.basic:read');
    expect((await agent.get('/profile')).status).toBe(302);
  });

  it('answers a forged or replayed callback with an expired-link page, not an error', async () => {
    const { app } = exampleApp({}, redis);
    const res = await request(app).get('/auth/fractal/callback?code=abc&state=forged').set('accept', 'text/html');
    expect(res.status).toBe(403);
    expect(res.text).toContain('Sign-in link expired');
  });

  it('escapes provider text and never shows a stack when the provider fails', async () => {
    const { app, lines } = exampleApp({}, redis);
    const agent = request.agent(app);
    const start = await agent.get('/auth/fractal');
    const state = new URL(start.headers.location as string).searchParams.get('state');
    const res = await agent.get(`/auth/fractal/callback?error=server_error&error_description=%3Cscript%3Ealert(1)%3C%2Fscript%3E&state=${state}`);
    expect(res.status).toBe(502);
    expect(res.text).not.toContain('alert(1)');
    expect(res.text).not.toMatch(/at .*\.ts:\d+/);
    expect(lines.join('\n')).toContain('server_error');
  });

  it('signs out on POST /logout', async () => {
    const { app } = exampleApp({}, redis);
    const agent = request.agent(app);
    await signIn(agent);
    expect((await agent.get('/profile')).status).toBe(200);
    const out = await agent.post('/logout');
    expect(out.status).toBe(303);
    expect((await agent.get('/profile')).status).toBe(302);
  });

  it('accepts signed webhooks on POST /webhooks/fractal and refuses unsigned ones', async () => {
    const { app } = exampleApp({}, redis);
    const body = approvedWebhook('some-uid');
    const ok = await request(app)
      .post('/webhooks/fractal')
      .set('content-type', 'application/json')
      .set('x-fractal-signature', signFractalWebhook(WEBHOOK_SECRET, body))
      .send(body);
    expect(ok.status).toBe(200);
    const forged = await request(app).post('/webhooks/fractal').set('content-type', 'application/json').set('x-fractal-signature', signFractalWebhook('wrong', body)).send(body);
    expect(forged.status).toBe(400);
    expect(forged.body.error).toBe('invalid_signature');
  });

  it('streams a verification webhook to the signed-in user over server-sent events', async () => {
    const { app } = exampleApp({}, redis);
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      // Sign in through fetch with a cookie, as a browser would.
      let cookie = '';
      const go = async (url: string) => {
        const res = await fetch(url, { redirect: 'manual', headers: cookie ? { cookie } : {} });
        const set = res.headers.get('set-cookie');
        if (set) cookie = set.split(';')[0]!;
        return res;
      };
      const start = await go(`${base}/auth/fractal`);
      const callback = new URL(await sandbox.authorize(start.headers.get('location')!, { email: 'sse@example.com' }));
      await go(`${base}${callback.pathname}${callback.search}`);
      const uid = sandbox.users.findByEmail('sse@example.com')!.uid;

      const controller = new AbortController();
      const stream = await fetch(`${base}/profile/events`, { headers: { cookie }, signal: controller.signal });
      expect(stream.headers.get('content-type')).toMatch(/text\/event-stream/);
      const reader = stream.body!.getReader();
      await reader.read(); // the retry line: the subscription is in place
      const body = approvedWebhook(uid);
      await request(app).post('/webhooks/fractal').set('content-type', 'application/json').set('x-fractal-signature', signFractalWebhook(WEBHOOK_SECRET, body)).send(body).expect(200);
      let text = '';
      while (!text.includes('\n\n') || !text.includes('event: kyc')) text += new TextDecoder().decode((await reader.read()).value);
      expect(text).toContain('event: kyc');
      expect(JSON.parse(text.split('data: ')[1]!.split('\n')[0]!)).toMatchObject({ uid, level: 'basic', status: 'done', credential: 'approved' });
      controller.abort();
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('answers /api/me with the users/me payload, or 401 without a session', async () => {
    const { app } = exampleApp({}, redis);
    const agent = request.agent(app);
    expect((await agent.get('/api/me')).status).toBe(401);
    await signIn(agent);
    const me = await agent.get('/api/me');
    expect(me.status).toBe(200);
    expect(me.body.user.uid).toBe(me.body.uid);
    if (redis) expect((await redis.keys(`${prefix}example:tokens:*`)).length).toBeGreaterThan(0);
  });

  it('answers 401 on /profile/events without a session', async () => {
    const { app } = exampleApp({}, redis);
    expect((await request(app).get('/profile/events')).status).toBe(401);
  });

  it('reports health, including Redis when configured', async () => {
    const { app } = exampleApp({}, redis);
    const res = await request(app).get('/healthz');
    expect(res.status).toBe(200);
    expect(res.body.redis).toBe(useRedis ? 'ok' : 'not configured');
  });
});

describe('/api/me and the token vault', () => {
  afterEach(() => sandbox.setTokenLifetimes({ accessToken: 7200 }));

  it('answers 401 unauthenticated without a session', async () => {
    const { app } = exampleApp();
    const res = await request(app).get('/api/me');
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'unauthenticated' });
  });

  it('returns uid, scopes and the users/me payload, refreshing an expired token once', async () => {
    const { app } = exampleApp();
    const agent = request.agent(app);
    sandbox.setTokenLifetimes({ accessToken: 1 });
    await signIn(agent, '/auth/fractal', { email: 'api-me@example.com', grantScopes: ['uid:read', 'verification.basic:read'] });
    const first = await agent.get('/api/me');
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ uid: expect.any(String), grantedScopes: expect.arrayContaining(['uid:read']), deniedScopes: ['contact:read', 'verification.basic.details:read'] });
    expect(first.body.user.uid).toBe(first.body.uid);
    await new Promise((resolve) => setTimeout(resolve, 1100)); // the 1-second access token is now dead
    const before = sandbox.counts().token.refresh_token;
    const second = await agent.get('/api/me');
    expect(second.status).toBe(200);
    expect(second.body.user.uid).toBe(first.body.uid);
    expect(sandbox.counts().token.refresh_token - before).toBe(1);
  });

  it('answers 401 reauthentication_required once the user revoked the grant, then unauthenticated', async () => {
    const store = new MemoryTokenStore();
    const { app } = exampleApp({}, undefined, store);
    const agent = request.agent(app);
    await signIn(agent, '/auth/fractal', { email: 'revoked@example.com' });
    const uid = sandbox.users.findByEmail('revoked@example.com')!.uid;
    sandbox.revokeGrant(uid);
    const res = await agent.get('/api/me');
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'reauthentication_required' });
    expect(await store.get(uid)).toBeNull();
    expect((await agent.get('/api/me')).body).toEqual({ error: 'unauthenticated' });
  });

  it('sends a browser whose grant was revoked back to sign-in once, with no loop', async () => {
    const { app } = exampleApp();
    const agent = request.agent(app);
    await signIn(agent, '/auth/fractal', { email: 'revoked-page@example.com' });
    sandbox.revokeGrant(sandbox.users.findByEmail('revoked-page@example.com')!.uid);
    const res = await agent.get('/profile');
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe('/auth/fractal?returnTo=%2Fprofile');
    // Signed out now: the next visit goes to sign-in without touching Fractal ID's token endpoint.
    const refreshes = sandbox.counts().token.refresh_token;
    expect((await agent.get('/profile')).status).toBe(302);
    expect(sandbox.counts().token.refresh_token).toBe(refreshes);
  });

  it('deletes the stored tokens at logout', async () => {
    const store = new MemoryTokenStore();
    const { app } = exampleApp({}, undefined, store);
    const agent = request.agent(app);
    await signIn(agent, '/auth/fractal', { email: 'logout-tokens@example.com' });
    const uid = sandbox.users.findByEmail('logout-tokens@example.com')!.uid;
    expect(await store.get(uid)).not.toBeNull();
    await agent.post('/logout').expect(303);
    expect(await store.get(uid)).toBeNull();
  });

  it('shows what a webhook changed after a reload, read fresh through the vault', async () => {
    const { app } = exampleApp();
    const agent = request.agent(app);
    await signIn(agent, '/auth/fractal', { email: 'reload@example.com' });
    sandbox.users.setVerification(sandbox.users.findByEmail('reload@example.com')!.uid, 'basic', { status: 'done', credential: 'approved' });
    const page = await agent.get('/profile');
    expect(page.text).toMatch(/data-level="basic"><td class="level">basic<\/td><td class="status">done<\/td><td class="credential">approved/);
  });
});

it('answers 503 with Retry-After on /api/me when Redis is down', async () => {
  const dead = new Redis({ host: '127.0.0.1', port: 1, enableOfflineQueue: false, maxRetriesPerRequest: 0, lazyConnect: true, retryStrategy: () => null });
  dead.on('error', () => undefined);
  const { app } = exampleApp({}, dead);
  // A validly signed session cookie, so that express-session has to ask Redis for the session.
  const { sign } = require('cookie-signature') as { sign: (value: string, secret: string) => string };
  const cookie = `fractal.sid=${encodeURIComponent(`s:${sign('some-session-id', 'x'.repeat(32))}`)}`;
  const res = await request(app).get('/api/me').set('cookie', cookie).set('accept', 'application/json');
  expect(res.status).toBe(503);
  expect(res.headers['retry-after']).toBeDefined();
  expect(res.body.error).toBe('store_unavailable');
  dead.disconnect();
});

it('answers 503 on /healthz when Redis is unreachable', async () => {
  // A port nothing listens on; no offline queue so the ping fails at once.
  const dead = new Redis({ host: '127.0.0.1', port: 1, enableOfflineQueue: false, maxRetriesPerRequest: 0, lazyConnect: true, retryStrategy: () => null });
  dead.on('error', () => undefined);
  const { app } = exampleApp({}, dead);
  const res = await request(app).get('/healthz');
  expect(res.status).toBe(503);
  expect(res.headers['retry-after']).toBeDefined();
  dead.disconnect();
});

it('logs once that in-memory sessions are single-process only', () => {
  const { lines } = exampleApp();
  expect(lines.filter((l) => l.includes('in memory'))).toHaveLength(1);
});

describe('configuration from the environment', () => {
  it.each<[NodeJS.ProcessEnv, string]>([
    [{ PORT: 'eighty' }, 'PORT'],
    [{ BASE_URL: 'ftp://x' }, 'BASE_URL'],
    [{ FRACTAL_ENV: 'dev' }, 'FRACTAL_ENV'],
    [{ FRACTAL_ENV: 'staging' }, 'FRACTAL_CLIENT_ID'],
    [{ FRACTAL_ENV: 'staging', FRACTAL_CLIENT_ID: 'id' }, 'FRACTAL_CLIENT_SECRET'],
    [{ FRACTAL_ENV: 'production', FRACTAL_CLIENT_ID: 'id', FRACTAL_CLIENT_SECRET: 's' }, 'SESSION_SECRET'],
    [{ SESSION_SECRET: 'short' }, 'SESSION_SECRET'],
    [{ REDIS_URL: 'localhost:6379' }, 'REDIS_URL'],
    [{ FRACTAL_AUTH_URL: 'not a url' }, 'FRACTAL_AUTH_URL'],
    [{ TOKEN_ENCRYPTION_KEY: 'abc' }, 'TOKEN_ENCRYPTION_KEY'],
    [{ FRACTAL_ENV: 'production', FRACTAL_CLIENT_ID: 'id', FRACTAL_CLIENT_SECRET: 's', SESSION_SECRET: 'y'.repeat(32) }, 'TOKEN_ENCRYPTION_KEY'],
  ])('names the bad variable in %j', (env, variable) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(new RegExp(`^${variable}:`));
  });

  it('needs nothing in sandbox mode', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ mode: 'sandbox', port: 3000, baseURL: 'http://localhost:3000', generatedSessionSecret: true });
  });
});
