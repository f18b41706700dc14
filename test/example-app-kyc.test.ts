import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Redis } from 'ioredis';
import request from 'supertest';
import { createApp } from '../example-app/app';
import { ConfigError, loadConfig } from '../example-app/config';
import { KycFeed } from '../example-app/kyc-feed';
import { signFractalWebhook, type DeliveryAttempt } from '../lib';
import { startSandbox, type Sandbox, type SandboxDecision } from '../lib/sandbox';
import { callbackPathOf } from './helpers/app';
import { eventually } from './helpers/eventually';
import { connectRedis, deletePrefix, randomPrefix } from './helpers/redis';

// The example app's KYC contract, driven over HTTP: GET /api/kyc, GET /api/kyc/required,
// FRACTAL_KYC_LEVEL, the profile page, and freshness after the sandbox's signed webhooks.

let sandbox: Sandbox;
let redis: Redis;
const prefix = randomPrefix('example-kyc');
beforeAll(async () => {
  sandbox = await startSandbox();
  redis = await connectRedis({ keyPrefix: prefix });
});
afterAll(async () => {
  // SCAN answers full key names, which a keyPrefix client would prefix again on DEL.
  const plain = await connectRedis();
  await deletePrefix(plain, prefix);
  plain.disconnect();
  redis.disconnect();
  await sandbox.close();
});

const BASE_URL = 'http://127.0.0.1:3997';
const WEBHOOK_SECRET = 'example-kyc-webhook-secret';
const feeds: KycFeed[] = [];
afterAll(() => {
  for (const feed of feeds) feed.close();
});

interface Running {
  base: string;
  server: Server;
  close(): Promise<void>;
}

async function startApp(env: NodeJS.ProcessEnv = {}, useRedis = false): Promise<Running> {
  const config = loadConfig({ BASE_URL, SESSION_SECRET: 'k'.repeat(32), ...env });
  const { clientID, clientSecret } = sandbox.registerClient({ redirectUris: [`${BASE_URL}/auth/fractal/callback`] });
  const feed = new KycFeed(useRedis ? redis : undefined);
  feeds.push(feed);
  const app = createApp({
    config,
    clientID,
    clientSecret,
    domains: sandbox.domains,
    webhookSecret: WEBHOOK_SECRET,
    kycFeed: feed,
    log: () => undefined,
    ...(useRedis ? { redis } : {}),
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    base,
    server,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      // Before the shared Redis client goes: the webhook store's done marks still waiting.
      await (app.locals.closeFractal as () => Promise<void>)();
    },
  };
}

async function signIn(agent: ReturnType<typeof request.agent>, decision: SandboxDecision, start = '/auth/fractal') {
  const authorize = await agent.get(start).set('accept', 'text/html');
  expect(authorize.status).toBe(302);
  const done = await agent.get(callbackPathOf(await sandbox.authorize(authorize.headers.location as string, decision))).set('accept', 'text/html');
  expect(done.status).toBe(302);
  const uid = sandbox.users.findByEmail(decision.email as string)?.uid;
  if (!uid) throw new Error('the sandbox does not know the user');
  return uid;
}

let seq = 0;
const email = () => `kyc-${Date.now()}-${seq++}@example.com`;
const userinfo = () => sandbox.counts().userinfo;

describe('GET /api/kyc and /api/kyc/required', () => {
  let app: Running;
  beforeAll(async () => {
    app = await startApp();
  });
  afterAll(() => app.close());

  it('answer 401 unauthenticated without a session', async () => {
    expect((await request(app.base).get('/api/kyc')).body).toEqual({ error: 'unauthenticated' });
    const res = await request(app.base).get('/api/kyc/required');
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'unauthenticated' });
  });

  it('answer the level and status for a signed-in user; 403 kyc_required until approved, then 200', async () => {
    const agent = request.agent(app.base);
    const uid = await signIn(agent, { email: email() });
    const kyc = await agent.get('/api/kyc');
    expect(kyc.status).toBe(200);
    expect(kyc.body).toMatchObject({ level: 'basic', status: 'pending' });
    const required = await agent.get('/api/kyc/required');
    expect(required.status).toBe(403);
    expect(required.body).toEqual({ error: 'kyc_required', status: 'pending' });

    sandbox.users.setVerification(uid, 'basic', { status: 'done', credential: 'approved' });
    const body = JSON.stringify({ type: 'verification_approved', data: { level: 'basic', user_id: uid, timestamp: new Date().toISOString() } });
    await request(app.base).post('/webhooks/fractal').set('content-type', 'application/json').set('x-fractal-signature', signFractalWebhook(WEBHOOK_SECRET, body)).send(body).expect(200);
    expect((await agent.get('/api/kyc')).body).toMatchObject({ level: 'basic', status: 'approved' });
    const ok = await agent.get('/api/kyc/required');
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ level: 'basic', status: 'approved' });
  });

  it('shows the KYC status on the profile page', async () => {
    const agent = request.agent(app.base);
    const uid = await signIn(agent, { email: email() });
    sandbox.users.setVerification(uid, 'basic', { status: 'contacted' });
    const page = await agent.get('/profile');
    expect(page.text).toMatch(/<code id="kyc-level">basic<\/code>: <strong id="kyc-status" data-status="contacted">contacted<\/strong>/);
  });
});

describe.each([
  ['in-memory cache', false],
  ['Redis cache', true],
])('webhook-driven freshness with the %s', (_name, useRedis) => {
  let app: Running;
  let attempts: DeliveryAttempt[];
  beforeAll(async () => {
    app = await startApp({}, useRedis);
  });
  beforeEach(() => {
    attempts = [];
    sandbox.setWebhooks({ url: `${app.base}/webhooks/fractal`, secrets: WEBHOOK_SECRET, onAttempt: (a) => attempts.push(a) });
  });
  afterEach(() => sandbox.setWebhooks(undefined));
  afterAll(() => app.close());

  it.each<[string, { status: 'done' | 'contacted'; credential?: 'approved' | 'rejected' }, string]>([
    ['verification_approved', { status: 'done', credential: 'approved' }, 'approved'],
    ['verification_rejected', { status: 'done', credential: 'rejected' }, 'rejected'],
    ['verification_contacted', { status: 'contacted' }, 'contacted'],
  ])('after a signed %s, the next /api/kyc reflects the provider within 2 s', async (type, update, expected) => {
    const agent = request.agent(app.base);
    const uid = await signIn(agent, { email: email() });
    expect((await agent.get('/api/kyc')).body.status).toBe('pending');
    const before = userinfo();
    // Cached: asking again costs no /v2/users/me call.
    expect((await agent.get('/api/kyc')).body.status).toBe('pending');
    expect(userinfo()).toBe(before);

    sandbox.users.setVerification(uid, 'basic', update);
    const seen = await eventually(async () => {
      const body = (await agent.get('/api/kyc')).body as { status: string };
      expect(body.status).toBe(expected);
      return body;
    }, 2000, 20);
    expect(seen).toMatchObject({ level: 'basic', status: expected });
    expect(attempts.map((a) => [a.type, a.status])).toEqual([[type, 200]]);
    // Exactly one fresh read: the one after the webhook invalidated the cache.
    expect(userinfo() - before).toBe(1);
  });

  it('keeps answering from the cache when no webhook arrives (the cache, not luck, saves the calls)', async () => {
    sandbox.setWebhooks(undefined);
    const agent = request.agent(app.base);
    const uid = await signIn(agent, { email: email() });
    expect((await agent.get('/api/kyc')).body.status).toBe('pending');
    const before = userinfo();
    sandbox.users.setVerification(uid, 'basic', { status: 'done', credential: 'approved' });
    expect((await agent.get('/api/kyc')).body.status).toBe('pending');
    expect(userinfo()).toBe(before);
  });
});

describe('FRACTAL_KYC_LEVEL', () => {
  it('defaults to basic and keeps the default scopes as they were', () => {
    const config = loadConfig({});
    expect(config.kycLevel).toBe('basic');
    expect(config.scopes).toEqual(['uid:read', 'contact:read', 'verification.basic:read', 'verification.basic.details:read']);
  });

  it.each(['gold', 'liveness', 'basic+plus', 'basic+nope'])('names the variable for %p', (value) => {
    expect(() => loadConfig({ FRACTAL_KYC_LEVEL: value })).toThrow(ConfigError);
    expect(() => loadConfig({ FRACTAL_KYC_LEVEL: value })).toThrow(/^FRACTAL_KYC_LEVEL:/);
  });

  it('asks for the scopes of a combined level, answers it as the level, and sends browsers to sign in for it', async () => {
    const app = await startApp({ FRACTAL_KYC_LEVEL: 'plus+liveness' });
    try {
      const agent = request.agent(app.base);
      const start = await agent.get('/auth/fractal').set('accept', 'text/html');
      const scope = new URL(start.headers.location as string).searchParams.get('scope')?.split(' ') ?? [];
      expect(scope).toEqual(expect.arrayContaining(['verification.plus:read', 'verification.liveness:read']));

      // The user unticks liveness: the browser is sent to sign in with the scopes it lacks.
      await signIn(agent, { email: email(), grantScopes: ['uid:read', 'verification.plus:read'] });
      expect((await agent.get('/api/kyc')).body).toMatchObject({ level: 'plus+liveness', status: 'missing' });
      const page = await agent.get('/api/kyc/required').set('accept', 'text/html');
      expect(page.status).toBe(302);
      const target = new URL(page.headers.location as string, app.base);
      expect(target.pathname).toBe('/auth/fractal');
      expect(target.searchParams.get('returnTo')).toBe('/api/kyc/required');
      const again = await agent.get(`${target.pathname}${target.search}`).set('accept', 'text/html');
      expect(new URL(again.headers.location as string).searchParams.get('scope')).toContain('verification.liveness:read');
      const json = await agent.get('/api/kyc/required');
      expect(json.body).toEqual({ error: 'kyc_required', status: 'missing' });
    } finally {
      await app.close();
    }
  });
});
