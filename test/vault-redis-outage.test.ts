import express, { type Express } from 'express';
import { Redis } from 'ioredis';
import request from 'supertest';
import { createFractalVault, generateEncryptionKey, RedisTokenStore, type FractalVault } from '../lib/tokens';
import { DEFAULT_TOKEN_CACHE_TTL_MS } from '../lib/tokens/redis-store';
import { REQUEST_PATH_OPTIONS, startRedisServer, type RedisServer } from './helpers/redis';
import { expectStoreUnavailable } from './helpers/vault-http';
import { expired, startVaultSandbox, type VaultSandbox } from './helpers/vault-sandbox';
import { eventually } from './helpers/eventually';

jest.setTimeout(60_000);

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);


describe('Redis outages (a private redis-server, killed, paused and restarted)', () => {
  let server: RedisServer;
  let redis: Redis;
  let store: RedisTokenStore;
  let env: VaultSandbox;
  let userId: string;
  let onTokenResponse: (() => Promise<void>) | undefined;
  let vault: FractalVault;
  let app: Express;

  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled);
    server = await startRedisServer({ persist: true });
    redis = new Redis({ host: '127.0.0.1', port: server.port, ...REQUEST_PATH_OPTIONS });
    redis.on('error', () => undefined);
    store = new RedisTokenStore({ client: redis, prefix: 'outage:', operationTimeoutMs: 1000, pollIntervalMs: 100 });
    env = await startVaultSandbox();
    vault = createFractalVault({
      store,
      encryptionKeys: generateEncryptionKey(),
      ...env.client,
      domains: env.sandbox.domains,
      lockTtlMs: 1000,
      hooks: { afterTokenResponse: () => onTokenResponse?.() },
    });
    app = express();
    app.use((req, _res, next) => {
      (req as { user?: { id: string } }).user = { id: userId };
      next();
    });
    app.use(vault.middleware());
    app.get('/public', (_req, res) => {
      res.json({ ok: true });
    });
    app.get('/api', vault.require(), async (req, res) => {
      res.json({ token: await req.fractal!.getAccessToken() });
    });
  });
  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled);
    await store.close();
    redis.disconnect();
    await server.destroy();
    await env.close();
  });

  beforeEach(async () => {
    onTokenResponse = undefined;
    const { uid, tokenSet } = await env.signIn();
    userId = uid;
    await eventually(() => vault.saveTokens(uid, tokenSet));
    env.sandbox.resetCounts();
  });

  const api = () => request(app).get('/api').set('Accept', 'application/json');

  test('Redis killed: 503 with Retry-After at once, no crash; restarted: the same requests succeed again', async () => {
    const before = (await api().expect(200)).body.token as string;
    await server.kill();

    const started = Date.now();
    const answers = await Promise.all([api(), api(), api(), api(), api()]);
    for (const res of answers) expectStoreUnavailable(res);
    expect(Date.now() - started).toBeLessThan(3000);
    // Routes that never ask for a token do not notice the outage.
    await request(app).get('/public').expect(200);

    await server.start();
    const after = await eventually(async () => (await api().expect(200)).body.token as string);
    expect(after).toBe(before);
    expect(unhandled).toEqual([]);
  });

  test('Redis that stops answering (paused): 503 within the operation timeout; resumed: requests succeed', async () => {
    await api().expect(200);
    server.pause();
    try {
      // A paused Redis closes no connection, so nothing tells the per-process record cache: it may
      // hand out the still-valid token until its bound, and not a moment later.
      await new Promise((resolve) => setTimeout(resolve, DEFAULT_TOKEN_CACHE_TTL_MS + 50));
      const started = Date.now();
      expectStoreUnavailable(await api());
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      server.resume();
    }
    await eventually(() => api().expect(200));
    expect(unhandled).toEqual([]);
  });

  test('Redis lost between the token response and the write: nobody gets the unsaved token, and the old refresh token still works afterwards', async () => {
    const { tokenSet } = await env.signIn(env.sandbox.users.get(userId)!.email);
    await vault.saveTokens(userId, expired(tokenSet));
    env.sandbox.resetCounts();
    onTokenResponse = async () => {
      onTokenResponse = undefined;
      await server.kill();
    };
    expectStoreUnavailable(await api());
    expect(env.sandbox.counts().token.refresh_token).toBe(1);

    await server.start();
    const res = await eventually(() => api().expect(200));
    const token = res.body.token as string;
    expect(token).not.toBe(tokenSet.accessToken);
    // Refreshed again with the refresh token that was still stored: the user stays signed in.
    expect(env.sandbox.counts().token).toMatchObject({ refresh_token: 2, failed: 0 });
    expect((await vault.getTokenSet(userId))?.accessToken).toBe(token);
    expect((await vault.fetchUser(userId)).uid).toBe(userId);
    expect(unhandled).toEqual([]);
  });
});
