import express, { type Express } from 'express';
import { Redis } from 'ioredis';
import request from 'supertest';
import {
  createFractalKyc,
  createFractalVault,
  generateEncryptionKey,
  MemoryKycCache,
  MemoryTokenStore,
  RedisKycCache,
  type FractalKyc,
  type FractalVault,
  type FractalWebhookEvent,
  type KycCache,
} from '../lib';
import { connectRedis, deletePrefix, randomPrefix } from './helpers/redis';
import { startVaultSandbox, type VaultSandbox } from './helpers/vault-sandbox';

// The KYC guard and its cache, over a real vault and the sandbox; Redis is the machine's own.
// Provider reads are counted at the sandbox (`counts().userinfo`), never inferred.

let env: VaultSandbox;
let redis: Redis;
const prefix = randomPrefix('kyc');
beforeAll(async () => {
  env = await startVaultSandbox();
  redis = await connectRedis();
});
afterAll(async () => {
  await deletePrefix(redis, prefix);
  redis.disconnect();
  await env.close();
});

const BASIC = ['uid:read', 'verification.basic:read'];

function newVault(): FractalVault {
  return createFractalVault({
    store: new MemoryTokenStore(),
    encryptionKeys: generateEncryptionKey(),
    ...env.client,
    domains: env.sandbox.domains,
    // Who is signed in comes from a header here: the guard does not care how the app knows.
    userId: (req) => req.get('x-user') || undefined,
  });
}

function verificationEvent(type: 'verification_approved' | 'verification_rejected' | 'verification_contacted', userId: string, stale = false): FractalWebhookEvent {
  return { type, known: true, stale, deliveryId: `d-${Math.random()}`, receivedAt: new Date(), data: { level: 'basic', user_id: userId, timestamp: new Date().toISOString() } };
}

function guardedApp(kyc: FractalKyc): Express {
  const app = express();
  app.get('/basic', kyc.requireKyc('basic'), (_req, res) => {
    res.json({ ok: true, decision: res.locals.fractalKyc });
  });
  app.get('/plus', kyc.requireKyc('plus'), (_req, res) => {
    res.json({ ok: true });
  });
  app.get('/status', async (req, res) => {
    res.json(await kyc.status(req, 'basic'));
  });
  return app;
}

const userinfo = () => env.sandbox.counts().userinfo;

describe.each<[string, () => KycCache]>([
  ['in memory', () => new MemoryKycCache()],
  ['in Redis', () => new RedisKycCache({ client: redis, prefix: `${prefix}${Math.random()}:` })],
])('KYC guard with the cache %s', (_name, newCache) => {
  let vault: FractalVault;
  let kyc: FractalKyc;
  let app: Express;
  beforeEach(() => {
    vault = newVault();
    kyc = createFractalKyc({ vault, cache: newCache() });
    app = guardedApp(kyc);
  });

  async function signedIn(scopes = BASIC): Promise<string> {
    const { uid, tokenSet } = await env.signIn(undefined, scopes);
    await vault.saveTokens(uid, tokenSet);
    return uid;
  }

  it('answers JSON clients 403 kyc_required with the status, then lets the approved user through', async () => {
    const uid = await signedIn();
    const pending = await request(app).get('/basic').set('x-user', uid).set('accept', 'application/json');
    expect(pending.status).toBe(403);
    expect(pending.body).toEqual({ error: 'kyc_required', status: 'pending' });

    env.sandbox.users.setVerification(uid, 'basic', { status: 'done', credential: 'approved' });
    await kyc.invalidate(uid);
    const approved = await request(app).get('/basic').set('x-user', uid).set('accept', 'application/json');
    expect(approved.status).toBe(200);
    expect(approved.body.decision).toMatchObject({ status: 'approved', requirement: 'basic', items: [{ item: 'basic', status: 'approved' }] });
  });

  it.each<[string, { status: 'contacted' | 'done'; credential: 'pending' | 'rejected' }, string]>([
    ['contacted', { status: 'contacted', credential: 'pending' }, 'contacted'],
    ['rejected', { status: 'done', credential: 'rejected' }, 'rejected'],
  ])('says %s when the provider does', async (_n, update, expected) => {
    const uid = await signedIn();
    env.sandbox.users.setVerification(uid, 'basic', update);
    const res = await request(app).get('/basic').set('x-user', uid);
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ error: 'kyc_required', status: expected });
  });

  it('sends a browser whose grant lacks the scopes to sign in with them, and back', async () => {
    const uid = await signedIn();
    const res = await request(app).get('/plus?x=1').set('x-user', uid).set('accept', 'text/html');
    expect(res.status).toBe(302);
    const location = new URL(res.headers.location as string, 'http://app.local');
    expect(location.pathname).toBe('/auth/fractal');
    expect(location.searchParams.get('scope')).toBe('uid:read verification.plus:read');
    expect(location.searchParams.get('returnTo')).toBe('/plus?x=1');
    // A JSON client is told, not redirected.
    const json = await request(app).get('/plus').set('x-user', uid);
    expect(json.status).toBe(403);
    expect(json.body).toEqual({ error: 'kyc_required', status: 'missing' });
  });

  it('answers a browser 403 (no redirect loop) when the scopes are granted but the case is pending', async () => {
    const uid = await signedIn();
    const res = await request(app).get('/basic').set('x-user', uid).set('accept', 'text/html');
    expect(res.status).toBe(403);
    expect(res.headers['content-type']).toMatch(/text\/plain/);
    expect(res.text).toContain('still reviewing');
  });

  it('handles signed-out users like vault.require(): 401 JSON, redirect for browsers', async () => {
    const json = await request(app).get('/basic');
    expect(json.status).toBe(401);
    expect(json.body.error).toBe('authentication_required');
    const page = await request(app).get('/basic').set('accept', 'text/html');
    expect(page.status).toBe(302);
    expect(page.headers.location).toBe('/auth/fractal?returnTo=%2Fbasic');
  });

  it('reads /v2/users/me once while cached, again after invalidate()', async () => {
    const uid = await signedIn();
    const before = userinfo();
    for (let i = 0; i < 3; i++) await request(app).get('/basic').set('x-user', uid).expect(403);
    expect(userinfo() - before).toBe(1);
    await kyc.invalidate(uid);
    await request(app).get('/basic').set('x-user', uid).expect(403);
    expect(userinfo() - before).toBe(2);
  });

  it('shares one provider read among concurrent requests of a user', async () => {
    const uid = await signedIn();
    const before = userinfo();
    const answers = await Promise.all([1, 2, 3, 4, 5].map(() => request(app).get('/status').set('x-user', uid)));
    expect(answers.map((a) => a.body.status)).toEqual(['pending', 'pending', 'pending', 'pending', 'pending']);
    expect(userinfo() - before).toBe(1);
  });

  it('invalidates on verification webhooks (stale ones too), not on other types', async () => {
    const uid = await signedIn();
    await request(app).get('/status').set('x-user', uid);
    const before = userinfo();
    const other: FractalWebhookEvent = { type: 'email_changed', known: true, stale: false, deliveryId: 'e', receivedAt: new Date(), data: { user_id: uid, email: 'x@example.com' } };
    expect(await kyc.handleWebhookEvent(other)).toBe(false);
    await request(app).get('/status').set('x-user', uid);
    expect(userinfo() - before).toBe(0);

    for (const type of ['verification_approved', 'verification_rejected', 'verification_contacted'] as const) {
      expect(await kyc.handleWebhookEvent(verificationEvent(type, uid, type === 'verification_rejected'))).toBe(true);
      await request(app).get('/status').set('x-user', uid);
    }
    expect(userinfo() - before).toBe(3);
  });

  it('does not serve an entry read under other scopes (the user signed in again with more)', async () => {
    const uid = await signedIn();
    expect((await request(app).get('/plus').set('x-user', uid)).body.status).toBe('missing');
    const { tokenSet } = await env.signIn(env.sandbox.users.get(uid)?.email, ['uid:read', 'verification.plus:read']);
    await vault.saveTokens(uid, tokenSet);
    env.sandbox.users.setVerification(uid, 'plus', { status: 'done', credential: 'approved' });
    expect((await request(app).get('/plus').set('x-user', uid)).status).toBe(200);
  });

  it('decides for a user by id (statusOf), and refuses one without tokens', async () => {
    const uid = await signedIn();
    expect((await kyc.statusOf(uid, 'basic')).status).toBe('pending');
    await expect(kyc.statusOf('nobody', 'basic')).rejects.toMatchObject({ code: 'reauthentication_required' });
  });

  it('refuses an invalid requirement when the guard is built', () => {
    expect(() => kyc.requireKyc('gold' as 'basic')).toThrow(/Unknown KYC level or add-on "gold"/);
  });
});

describe('KYC cache invalidation wins races', () => {
  const entry = { scopes: 'uid:read', cases: [{ level: 'basic', status: 'done', credential: 'approved' }], fetchedAt: 1 };

  it.each<[string, () => KycCache]>([
    ['memory', () => new MemoryKycCache()],
    ['Redis', () => new RedisKycCache({ client: redis, prefix: `${prefix}race:` })],
  ])('%s: a read that started before invalidate() cannot write back afterwards', async (_n, newCache) => {
    const cache = newCache();
    const first = await cache.read('u1');
    await cache.write('u1', first.generation, entry);
    expect((await cache.read('u1')).entry).toEqual(entry);

    const started = await cache.read('u1'); // a provider read begins...
    await cache.invalidate('u1'); // ...a webhook arrives...
    await cache.write('u1', started.generation, { ...entry, fetchedAt: 2 }); // ...the old answer comes back
    const after = await cache.read('u1');
    expect(after.entry).toBeUndefined();
    expect(after.generation).not.toBe(started.generation);
    await cache.write('u1', after.generation, { ...entry, fetchedAt: 3 });
    expect((await cache.read('u1')).entry?.fetchedAt).toBe(3);
  });

  it('memory: an entry expires after its TTL', async () => {
    const cache = new MemoryKycCache({ ttlMs: 30 });
    await cache.write('u1', (await cache.read('u1')).generation, entry);
    expect((await cache.read('u1')).entry).toBeDefined();
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect((await cache.read('u1')).entry).toBeUndefined();
  });

  it('Redis: entries carry the TTL, read back from Redis', async () => {
    const cache = new RedisKycCache({ client: redis, prefix: `${prefix}ttl:`, ttlMs: 5000 });
    await cache.write('u1', (await cache.read('u1')).generation, entry);
    const ttl = await redis.pttl(`${prefix}ttl:{u1}`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(5000);
  });

  it('refuses a TTL that is not a positive integer', () => {
    expect(() => new MemoryKycCache({ ttlMs: 0 })).toThrow(/ttlMs/);
    expect(() => new RedisKycCache({ client: redis, ttlMs: 1.5 })).toThrow(/ttlMs/);
  });
});

describe('KYC webhooks for apps with their own user ids', () => {
  it('invalidates the user that userIdOf maps the webhook uid to, and nobody when it maps to none', async () => {
    const cache = new MemoryKycCache();
    const kyc = createFractalKyc({ vault: newVault(), cache, userIdOf: (uid) => (uid === 'unknown' ? undefined : `app-${uid}`) });
    const entry = { scopes: 'uid:read', cases: [], fetchedAt: 1 };
    await cache.write('app-u1', (await cache.read('app-u1')).generation, entry);
    await cache.write('u1', (await cache.read('u1')).generation, entry);
    expect(await kyc.handleWebhookEvent(verificationEvent('verification_approved', 'u1'))).toBe(true);
    expect((await cache.read('app-u1')).entry).toBeUndefined();
    expect((await cache.read('u1')).entry).toEqual(entry);
    expect(await kyc.handleWebhookEvent(verificationEvent('verification_approved', 'unknown'))).toBe(true);
  });
});

describe('KYC cache on a Redis that is down', () => {
  it('decides from the provider, and fails invalidation loudly so the webhook is retried', async () => {
    const dead = new Redis({ host: '127.0.0.1', port: 1, enableOfflineQueue: false, maxRetriesPerRequest: 0, lazyConnect: true, retryStrategy: () => null });
    dead.on('error', () => undefined);
    const vault = newVault();
    const kyc = createFractalKyc({ vault, cache: new RedisKycCache({ client: dead, operationTimeoutMs: 200 }) });
    const { uid, tokenSet } = await env.signIn(undefined, BASIC);
    await vault.saveTokens(uid, tokenSet);
    const res = await request(guardedApp(kyc)).get('/status').set('x-user', uid);
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('pending');
    await expect(kyc.handleWebhookEvent(verificationEvent('verification_approved', uid))).rejects.toMatchObject({ code: 'store_unavailable' });
    dead.disconnect();
  });
});
