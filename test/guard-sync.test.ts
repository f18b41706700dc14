import express, { type Express, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { Redis } from 'ioredis';
import request from 'supertest';
import {
  createFractalKyc,
  createFractalVault,
  generateEncryptionKey,
  MemoryKycCache,
  MemoryTokenStore,
  RedisKycCache,
  RedisTokenStore,
  type FractalKyc,
  type FractalVault,
  type KycCache,
  type TokenStore,
} from '../lib';
import { eventually } from './helpers/eventually';
import { connectRedis, deletePrefix, randomPrefix } from './helpers/redis';
import { startVaultSandbox, type VaultSandbox } from './helpers/vault-sandbox';

// Issue 16: a guarded request of a warm user (fresh token already decrypted in this process,
// KYC decision cached) is decided without a store read or a promise chain: the guard answers one
// microtask later (on purpose: see lib/tokens/guard.ts). What the tests observe: how many
// microtask turns passed between the middleware in front of the guard and the route's handler.
// A warm request takes at most FAST_TICKS; anything that reads a store, refreshes or asks the
// provider takes more. And everything that needs the slow path answers exactly as before.

let env: VaultSandbox;
let redis: Redis;
const prefix = randomPrefix('sync');
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

function newVault(store: TokenStore): FractalVault {
  return createFractalVault({
    store,
    encryptionKeys: generateEncryptionKey(),
    ...env.client,
    domains: env.sandbox.domains,
    userId: (req) => req.get('x-user') || undefined,
  });
}

/** A warm request reaches the handler within this many microtask turns of the guard. */
const FAST_TICKS = 1;

/** Counts microtask turns until the handler asks `res.locals.fast()`. */
const markSync: RequestHandler = (_req: Request, res: Response, next: NextFunction) => {
  let ticks = 0;
  let stopped = false;
  const spin = (): void => {
    if (stopped || ticks >= 1000) return;
    ticks++;
    queueMicrotask(spin);
  };
  queueMicrotask(spin);
  res.locals.fast = () => {
    stopped = true;
    return ticks <= FAST_TICKS;
  };
  next();
};

function app(vault: FractalVault, kyc: FractalKyc, extra?: (app: Express) => void): Express {
  const a = express();
  a.use(markSync, vault.middleware());
  a.get('/data', vault.require(), async (req, res) => {
    const fast = res.locals.fast();
    res.json({ fast, token: await req.fractal?.getAccessToken() });
  });
  a.get('/basic', kyc.requireKyc('basic'), (_req, res) => {
    res.json({ fast: res.locals.fast(), status: res.locals.fractalKyc?.status });
  });
  extra?.(a);
  return a;
}

const tokenCalls = () => env.sandbox.counts().token.refresh_token;
const userinfo = () => env.sandbox.counts().userinfo;

describe.each<[string, () => { store: TokenStore; cache: KycCache; close(): Promise<void> }]>([
  ['memory stores', () => ({ store: new MemoryTokenStore(), cache: new MemoryKycCache(), close: async () => undefined })],
  [
    'Redis stores with their local copies',
    () => {
      const p = `${prefix}${Math.random()}:`;
      const store = new RedisTokenStore({ client: redis, prefix: `${p}tokens:` });
      const cache = new RedisKycCache({ client: redis, prefix: `${p}kyc:` });
      return { store, cache, close: async () => (await store.close(), await cache.close()) };
    },
  ],
])('warm requests with %s', (_name, stores) => {
  let s: ReturnType<typeof stores>;
  let vault: FractalVault;
  let kyc: FractalKyc;
  let server: Express;
  beforeEach(() => {
    s = stores();
    vault = newVault(s.store);
    kyc = createFractalKyc({ vault, cache: s.cache });
    server = app(vault, kyc);
  });
  afterEach(() => s.close());

  async function signedIn(): Promise<{ uid: string; accessToken: string }> {
    const { uid, tokenSet } = await env.signIn(undefined, BASIC);
    await vault.saveTokens(uid, tokenSet);
    return { uid, accessToken: tokenSet.accessToken };
  }
  const get = (path: string, uid: string) => request(server).get(path).set('x-user', uid).set('accept', 'application/json');

  it('vault.require(): the first request reads and decrypts, the next ones wait for nothing and get the same token', async () => {
    const { uid, accessToken } = await signedIn();
    const first = await get('/data', uid).expect(200);
    expect(first.body).toEqual({ fast: false, token: accessToken });
    // Redis: the local copy is kept once the change channel is confirmed, so warm up until it is.
    await eventually(async () => expect((await get('/data', uid).expect(200)).body).toEqual({ fast: true, token: accessToken }));
    expect((await get('/data', uid).expect(200)).body).toEqual({ fast: true, token: accessToken });
  });

  it('a warm token is handed out at once only until it enters the refresh skew: then it is refreshed first', async () => {
    const { uid } = await signedIn();
    const { tokenSet } = await env.signIn(env.sandbox.users.get(uid)?.email, BASIC);
    // Lifetime 3 s: fresh for its first half (the skew is capped at half the lifetime).
    await vault.saveTokens(uid, { ...tokenSet, expiresAt: Date.now() + 3000 });
    const freshUntil = Date.now() + 1500;
    await eventually(async () => expect((await get('/data', uid).expect(200)).body).toEqual({ fast: true, token: tokenSet.accessToken }));
    expect(Date.now()).toBeLessThan(freshUntil);
    await new Promise((resolve) => setTimeout(resolve, freshUntil - Date.now() + 50));
    const before = tokenCalls();
    const refreshed = await get('/data', uid).expect(200);
    expect(refreshed.body.fast).toBe(false);
    expect(refreshed.body.token).not.toBe(tokenSet.accessToken);
    expect(tokenCalls() - before).toBe(1);
  });

  it('a revoked grant is not served from the warm path', async () => {
    const { uid } = await signedIn();
    await eventually(async () => expect((await get('/data', uid).expect(200)).body.fast).toBe(true));
    await vault.revoke(uid);
    const gone = await get('/data', uid);
    expect(gone.status).toBe(401);
    expect(gone.body.error).toBe('reauthentication_required');
  });

  it("kyc.requireKyc(): an approved user's cached decision lets the request through at once, with the decision on res.locals", async () => {
    const { uid } = await signedIn();
    env.sandbox.users.setVerification(uid, 'basic', { status: 'done', credential: 'approved' });
    expect((await get('/basic', uid).expect(200)).body).toEqual({ fast: false, status: 'approved' });
    const reads = userinfo();
    await eventually(async () => expect((await get('/basic', uid).expect(200)).body).toEqual({ fast: true, status: 'approved' }));
    expect(userinfo()).toBe(reads);
  });

  it('an invalidated decision is read again: a user rejected since is refused', async () => {
    const { uid } = await signedIn();
    env.sandbox.users.setVerification(uid, 'basic', { status: 'done', credential: 'approved' });
    await eventually(async () => expect((await get('/basic', uid).expect(200)).body.fast).toBe(true));
    env.sandbox.users.setVerification(uid, 'basic', { status: 'done', credential: 'rejected' });
    await kyc.invalidate(uid);
    const refused = await get('/basic', uid);
    expect(refused.status).toBe(403);
    expect(refused.body).toEqual({ error: 'kyc_required', status: 'rejected' });
  });

  it('a pending user is refused every time (refusals take the slow path)', async () => {
    const { uid } = await signedIn();
    for (let i = 0; i < 3; i++) expect((await get('/basic', uid)).body).toEqual({ error: 'kyc_required', status: 'pending' });
  });
});

describe('deciders that answer at once', () => {
  let vault: FractalVault;
  beforeEach(() => {
    vault = newVault(new MemoryTokenStore());
  });

  it('vault.guard() answers an outcome returned without a promise, and maps a synchronous throw like a rejection', async () => {
    const a = express();
    a.use(markSync);
    a.get('/teapot', vault.guard(() => ({ kind: 'refuse', status: 418, error: 'teapot', description: 'Short and stout' })), (_req, res) => {
      res.sendStatus(200);
    });
    a.get('/open', vault.guard(() => ({ kind: 'allow' })), (_req, res) => {
      res.json({ fast: res.locals.fast() });
    });
    a.get('/down', vault.guard(() => {
      throw Object.assign(new Error('Redis at 10.0.0.7 is down'), { code: 'store_unavailable', retryAfter: 3 });
    }), (_req, res) => {
      res.sendStatus(200);
    });
    const teapot = await request(a).get('/teapot').set('accept', 'application/json');
    expect(teapot.status).toBe(418);
    expect(teapot.body).toEqual({ error: 'teapot', error_description: 'Short and stout' });
    expect((await request(a).get('/open').expect(200)).body).toEqual({ fast: true });
    const down = await request(a).get('/down').set('accept', 'application/json');
    expect(down.status).toBe(503);
    expect(down.headers['retry-after']).toBe('3');
    expect(down.text).not.toContain('10.0.0.7');
  });

  it('a token store whose peekCached() throws costs the fast path only: the token is read the usual way', async () => {
    class BrokenPeek extends MemoryTokenStore {
      override peekCached(): never {
        throw new Error('broken peek');
      }
    }
    const broken = newVault(new BrokenPeek());
    const server = app(broken, createFractalKyc({ vault: broken }));
    const { uid, tokenSet } = await env.signIn(undefined, BASIC);
    await broken.saveTokens(uid, tokenSet);
    for (let i = 0; i < 2; i++) {
      const res = await request(server).get('/data').set('x-user', uid).set('accept', 'application/json').expect(200);
      expect(res.body).toEqual({ fast: false, token: tokenSet.accessToken });
    }
  });

  it("a KYC cache whose peek() throws costs the fast path only: the guard reads it the usual way", async () => {
    const inner = new MemoryKycCache();
    const cache: KycCache = {
      read: (userId) => inner.read(userId),
      write: (userId, generation, entry) => inner.write(userId, generation, entry),
      invalidate: (userId) => inner.invalidate(userId),
      peek: () => {
        throw new Error('broken peek');
      },
    };
    const kyc = createFractalKyc({ vault, cache });
    const server = app(vault, kyc);
    const { uid, tokenSet } = await env.signIn(undefined, BASIC);
    await vault.saveTokens(uid, tokenSet);
    env.sandbox.users.setVerification(uid, 'basic', { status: 'done', credential: 'approved' });
    for (let i = 0; i < 3; i++) {
      const res = await request(server).get('/basic').set('x-user', uid).expect(200);
      expect(res.body).toEqual({ fast: false, status: 'approved' });
    }
  });
});
