import express, { type Express } from 'express';
import type { Redis, RedisOptions } from 'ioredis';
import request, { type Response } from 'supertest';
import { ErrorCode } from '../lib/errors';
import { createFractalVault, generateEncryptionKey, RedisTokenStore, type FractalVault, type FractalVaultOptions } from '../lib/tokens';
import * as scripts from '../lib/tokens/redis-scripts';
import { connectRedis, deletePrefix, randomPrefix, SHARED_REDIS, startSmallRedis, type SmallRedis } from './helpers/redis';
import { startTcpProxy, type DropMode, type TcpProxy } from './helpers/tcp-proxy';
import { expectStoreUnavailable } from './helpers/vault-http';
import { expired, startVaultSandbox, type VaultSandbox } from './helpers/vault-sandbox';
import type { FractalTokenSet } from '../lib/provider/token-client';
import { eventually } from './helpers/eventually';

jest.setTimeout(90_000);

/**
 * Generous bound that only proves "answered, not hanging": the store's operation timeout is 1 s,
 * and a refresh stacks at most a few of them. Never a performance assertion.
 */
const NO_HANG_MS = 8000;
/** The store's bound per Redis operation in these tests. */
const OPERATION_TIMEOUT_MS = 1000;

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};
beforeAll(() => {
  process.on('unhandledRejection', onUnhandled);
});
afterAll(() => {
  process.off('unhandledRejection', onUnhandled);
});


/** Fails instead of waiting forever when a fault that should have fired did not. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A vault on `store` behind an Express app whose `/api` route is guarded, as in the README. */
interface VaultApp {
  vault: FractalVault;
  app: Express;
  /** Set per test: runs after the token endpoint answered a refresh, before the fenced write. */
  onTokenResponse: (() => void | Promise<void>) | undefined;
  userId: string;
}

function vaultApp(env: VaultSandbox, store: RedisTokenStore, options: Partial<FractalVaultOptions> = {}): VaultApp {
  const t = { onTokenResponse: undefined, userId: '' } as VaultApp;
  t.vault = createFractalVault({
    store,
    encryptionKeys: generateEncryptionKey(),
    ...env.client,
    domains: env.sandbox.domains,
    // Short enough that a lock orphaned by a fault frees itself within a test.
    lockTtlMs: 3000,
    retry: { baseDelayMs: 20, maxDelayMs: 100 },
    hooks: { afterTokenResponse: () => t.onTokenResponse?.() },
    ...options,
  });
  t.app = express();
  t.app.use((req, _res, next) => {
    (req as { user?: { id: string } }).user = { id: t.userId };
    next();
  });
  t.app.use(t.vault.middleware());
  t.app.get('/public', (_req, res) => {
    res.json({ ok: true });
  });
  t.app.get('/api', t.vault.require(), async (req, res) => {
    res.json({ token: await req.fractal!.getAccessToken() });
  });
  return t;
}

/** GET /api as an API client, with how long the answer took. */
async function callApi(app: Express): Promise<{ res: Response; ms: number }> {
  const started = Date.now();
  const res = await request(app).get('/api').set('Accept', 'application/json');
  return { res, ms: Date.now() - started };
}

/** What a fault may cost a caller: a 503 store_unavailable with Retry-After, or success. Never another 5xx, never a hang. */
function expectTypedOutcome({ res, ms }: { res: Response; ms: number }): void {
  expect(ms).toBeLessThan(NO_HANG_MS);
  if (res.status === 200) {
    expect(res.body.token).toEqual(expect.any(String));
  } else {
    expectStoreUnavailable(res);
    expect(res.body.error).toBe(ErrorCode.STORE_UNAVAILABLE);
  }
}

/**
 * The user still has a working grant, without signing in again: the stored access token is
 * accepted by the resource server (which, like Doorkeeper, revokes the previous refresh token on
 * that first use), and then the stored refresh token still refreshes.
 */
async function expectWorkingGrant(env: VaultSandbox, vault: FractalVault, userId: string): Promise<void> {
  const current = await vault.getTokenSet(userId);
  expect(current).not.toBeNull();
  expect((await vault.fetchUser(userId)).uid).toBe(userId);
  const before = env.sandbox.counts().token;
  await vault.saveTokens(userId, expired((await vault.getTokenSet(userId))!));
  const refreshed = await vault.getAccessToken(userId);
  expect(refreshed).not.toBe(current!.accessToken);
  expect(env.sandbox.counts().token).toMatchObject({ refresh_token: before.refresh_token + 1, failed: before.failed });
  expect((await vault.fetchUser(userId)).uid).toBe(userId);
}

describe('Redis behind a faulty network (a TCP proxy in front of the shared Redis)', () => {
  const prefix = randomPrefix('faults');
  let admin: Redis;
  let proxy: TcpProxy;
  let env: VaultSandbox;
  const clients: { redis: Redis; store: RedisTokenStore }[] = [];
  // One key for every vault here: they are like processes of one app, sharing the records.
  const encryptionKeys = generateEncryptionKey();
  /** The app's Redis client (through the proxy), its store, and a vault app on them. */
  const setUp = async (clientOptions: RedisOptions = {}, vaultOptions: Partial<FractalVaultOptions> = {}) => {
    const redis = await connectRedis({ host: proxy.host, port: proxy.port, ...clientOptions });
    const store = new RedisTokenStore({ client: redis, prefix, operationTimeoutMs: OPERATION_TIMEOUT_MS, pollIntervalMs: 100 });
    clients.push({ redis, store });
    // Not a spread: the app reads `userId` and `onTokenResponse` from this very object.
    return Object.assign(vaultApp(env, store, { encryptionKeys, ...vaultOptions }), { store });
  };
  let t: VaultApp & { store: RedisTokenStore };
  /** One user per test, signed in at the sandbox; saved by each test with the vault it uses. */
  let user: { uid: string; tokenSet: FractalTokenSet };

  /**
   * ioredis re-sends commands left unanswered by a dropped connection once it has reconnected
   * (`autoResendUnfulfilledCommands`, on by default), so a command may run twice, or once without
   * the caller hearing of it. Apps may turn that off: then the command's promise never settles,
   * and only the store's own deadline answers the caller.
   */
  const resendModes: [string, RedisOptions][] = [
    ['ioredis re-sends it after reconnecting', {}],
    ['autoResendUnfulfilledCommands off', { autoResendUnfulfilledCommands: false }],
  ];
  const dropModes: DropMode[] = ['unsent', 'reply-lost'];
  const cases = dropModes.flatMap((mode) => resendModes.map(([name, options]) => [mode, name, options] as const));

  beforeAll(async () => {
    admin = await connectRedis();
    // Cache the scripts, so the stores send EVALSHA <sha> (what the drop tests match on) rather
    // than falling back to EVAL after NOSCRIPT.
    for (const script of Object.values(scripts)) if (typeof script?.lua === 'string') await admin.script('LOAD', script.lua);
    proxy = await startTcpProxy(SHARED_REDIS);
    env = await startVaultSandbox();
    t = await setUp();
  });
  afterAll(async () => {
    for (const { store, redis } of clients) {
      await store.close();
      redis.disconnect();
    }
    await proxy?.close();
    if (admin) {
      await deletePrefix(admin, prefix);
      admin.disconnect();
    }
    await env?.close();
  });

  beforeEach(async () => {
    proxy.delay(0);
    t.onTokenResponse = undefined;
    user = await env.signIn();
    t.userId = user.uid;
    // The previous test's fault may still be settling (reconnect, late replies).
    await eventually(() => t.vault.saveTokens(user.uid, user.tokenSet));
    env.sandbox.resetCounts();
  });
  afterEach(() => {
    proxy.delay(0);
    proxy.disarm();
  });

  /** The user's stored access token is expired, so the next call refreshes it. */
  const expireStoredTokens = async (v: VaultApp): Promise<FractalTokenSet> => {
    const { tokenSet } = await env.signIn(env.sandbox.users.get(user.uid)!.email);
    v.userId = user.uid;
    await v.vault.saveTokens(user.uid, expired(tokenSet));
    env.sandbox.resetCounts();
    return tokenSet;
  };

  test('slow Redis (1.5 s per hop): the guard answers 503 store_unavailable with Retry-After within the operation timeout; fast again, 200 with the same tokens', async () => {
    const before = (await request(t.app).get('/api').set('Accept', 'application/json').expect(200)).body.token as string;

    proxy.delay(1500);
    const answers = await Promise.all([callApi(t.app), callApi(t.app), callApi(t.app)]);
    for (const answer of answers) {
      expectStoreUnavailable(answer.res);
      expect(answer.res.body.error).toBe(ErrorCode.STORE_UNAVAILABLE);
      // Bounded by the store's own deadline, not by Redis: it never answered in time.
      expect(answer.ms).toBeLessThan(NO_HANG_MS);
    }
    // Routes that never ask for a token do not notice.
    await request(t.app).get('/public').expect(200);

    proxy.delay(0);
    const after = await eventually(async () => (await request(t.app).get('/api').set('Accept', 'application/json').expect(200)).body.token as string);
    expect(after).toBe(before);
    expect(await t.vault.getAccessToken(t.userId)).toBe(before);
    // Nothing was refreshed: slowness is not a reason to rotate tokens.
    expect(env.sandbox.counts().token).toMatchObject({ refresh_token: 0, failed: 0 });
    expect(unhandled).toEqual([]);
  });

  test('Redis turns slow right after the token endpoint answered a refresh: 503 or the new token, then success without signing in again', async () => {
    const old = await expireStoredTokens(t);
    t.onTokenResponse = () => {
      t.onTokenResponse = undefined;
      proxy.delay(1500);
    };

    const first = await callApi(t.app);
    expectTypedOutcome(first);
    expect(env.sandbox.counts().token.refresh_token).toBe(1);

    proxy.delay(0);
    const { body } = await eventually(() => request(t.app).get('/api').set('Accept', 'application/json').expect(200));
    const token = body.token as string;
    expect(token).not.toBe(old.accessToken);
    if (first.res.status === 200) expect(first.res.body.token).toBe(token);
    // The late fenced write either landed (one refresh in all) or was refused and the next caller
    // refreshed again with the refresh token still stored (two): never a failed grant.
    const counts = env.sandbox.counts();
    expect(counts.token).toMatchObject({ authorization_code: 0, failed: 0 });
    expect([1, 2]).toContain(counts.token.refresh_token);
    expect((await t.vault.getTokenSet(t.userId))?.accessToken).toBe(token);
    await expectWorkingGrant(env, t.vault, t.userId);
    expect(unhandled).toEqual([]);
  });

  test.each(cases)('connection dropped on the token read (HMGET, %s; %s): 200 or 503, never a hang; the tokens are intact', async (mode, _name, clientOptions) => {
    const v = clientOptions.autoResendUnfulfilledCommands === false ? await setUp(clientOptions) : t;
    v.userId = user.uid;
    const before = await t.vault.getAccessToken(user.uid);
    // The command name as ioredis writes it: `*4 $5 hmget <key> v d`.
    const fired = proxy.dropNext({ mode, match: /\*4\r\n\$5\r\nhmget\r\n/i });

    const answer = await callApi(v.app);
    await within(fired, 1000, 'the drop');
    expectTypedOutcome(answer);
    if (answer.res.status === 200) expect(answer.res.body.token).toBe(before);

    const after = await eventually(async () => (await request(v.app).get('/api').set('Accept', 'application/json').expect(200)).body.token as string);
    expect(after).toBe(before);
    expect(env.sandbox.counts().token).toMatchObject({ refresh_token: 0, failed: 0 });
    await expectWorkingGrant(env, t.vault, user.uid);
    expect(unhandled).toEqual([]);
  });

  test.each(cases)(
    'connection dropped on the fenced write of a refresh (EVALSHA compare-and-set, %s; %s): 200 or 503; one valid record, and the refresh token still works',
    async (mode, _name, clientOptions) => {
      const v = clientOptions.autoResendUnfulfilledCommands === false ? await setUp(clientOptions) : t;
      const old = await expireStoredTokens(v);
      const { tokens, lock } = v.store.keysFor(user.uid);
      const versionBefore = Number(await admin.hget(tokens, 'v'));
      const fired = proxy.dropNext({ mode, match: scripts.COMPARE_AND_SET.sha });

      const answer = await callApi(v.app);
      await within(fired, 1000, 'the drop');
      expectTypedOutcome(answer);
      expect(env.sandbox.counts().token.refresh_token).toBe(1);

      // A re-sent compare-and-set, or one that ran without its caller hearing of it, must be a
      // no-op or the one write of that refresh: the fence (version + lock owner) decides.
      const { body } = await eventually(() => request(v.app).get('/api').set('Accept', 'application/json').expect(200));
      const token = body.token as string;
      expect(token).not.toBe(old.accessToken);
      if (answer.res.status === 200) {
        // A caller was handed this token: it must be the stored one, or using it would revoke the
        // stored refresh token at the provider and sign the user out.
        expect(answer.res.body.token).toBe(token);
        expect(env.sandbox.counts().token.refresh_token).toBe(1);
      }
      const refreshes = env.sandbox.counts().token.refresh_token;
      expect(env.sandbox.counts().token).toMatchObject({ authorization_code: 0, failed: 0 });
      const record = await admin.hgetall(tokens);
      expect(Object.keys(record).sort()).toEqual(['d', 'v']);
      // At most one write per refresh that reached the provider: never the same one applied twice.
      expect(Number(record.v) - versionBefore).toBeGreaterThanOrEqual(1);
      expect(Number(record.v) - versionBefore).toBeLessThanOrEqual(refreshes);
      expect((await v.vault.getTokenSet(user.uid))?.accessToken).toBe(token);
      await eventually(async () => expect(await admin.exists(lock)).toBe(0));
      await expectWorkingGrant(env, v.vault, user.uid);
      expect(unhandled).toEqual([]);
    },
  );

  // Guards the lock's lost-reply case: with a plain `SET lock <token> NX PX`, a lock taken whose
  // reply was lost had no known owner. ioredis' re-sent SET NX found it and answered "not
  // acquired", so the refresher waited for its own orphaned lock for lockTtlMs (about 24 s by
  // default); with re-sending off, the next request waited instead. `ACQUIRE_LOCK` counts "held by
  // my token" as acquired, and the store reuses, once, the token of an attempt without an answer.
  test.each(cases)(
    'connection dropped on the refresh-lock acquisition (%s; %s): the user is not blocked by an orphaned lock',
    async (mode, _name, clientOptions) => {
      // A lock TTL close to the default (about 24 s), so that waiting for it shows as a hang.
      const v = await setUp(clientOptions, { lockTtlMs: 20_000, waitTimeoutMs: 25_000 });
      const old = await expireStoredTokens(v);
      const { lock } = v.store.keysFor(user.uid);
      // The first command of a refresh that names the lock key is the one taking it.
      const fired = proxy.dropNext({ mode, match: lock });

      const first = await callApi(v.app);
      await within(fired, 1000, 'the drop');
      expectTypedOutcome(first);
      // The next request (after a 503, the client may still be reconnecting: ask again), each
      // answered without waiting for a lock nobody will release.
      const second = await eventually(async () => {
        const answer = await callApi(v.app);
        expectTypedOutcome(answer);
        expect(answer.res.status).toBe(200);
        return answer;
      }, 10_000);
      if (first.res.status === 200) expect(first.res.body.token).toBe(second.res.body.token);
      expect(second.res.body.token).not.toBe(old.accessToken);
      expect(env.sandbox.counts().token).toMatchObject({ refresh_token: 1, failed: 0 });
      await expectWorkingGrant(env, v.vault, user.uid);
      expect(unhandled).toEqual([]);
    },
  );
});

describe('Redis full (a private redis-server with maxmemory and noeviction)', () => {
  const prefix = randomPrefix('full');
  let server: SmallRedis;
  let redis: Redis;
  let store: RedisTokenStore;
  let env: VaultSandbox;
  let t: VaultApp;
  const fill = () => server.fill();
  const free = () => server.free();

  beforeAll(async () => {
    server = await startSmallRedis(prefix);
    redis = await connectRedis({ port: server.port });
    store = new RedisTokenStore({ client: redis, prefix, operationTimeoutMs: OPERATION_TIMEOUT_MS, pollIntervalMs: 100 });
    env = await startVaultSandbox();
    t = vaultApp(env, store);
  });
  afterAll(async () => {
    await store?.close();
    redis?.disconnect();
    await server?.destroy();
    await env?.close();
  });

  beforeEach(async () => {
    t.onTokenResponse = undefined;
    const { uid, tokenSet } = await env.signIn();
    t.userId = uid;
    await t.vault.saveTokens(uid, tokenSet);
    env.sandbox.resetCounts();
  });
  afterEach(free);

  test('saveTokens rejects with a typed store_unavailable (OOM), reads keep working, and writes work again once memory is freed', async () => {
    const stored = await t.vault.getAccessToken(t.userId);
    const other = await env.signIn();
    expect(await fill()).toBeGreaterThan(0);

    const failure = await t.vault.saveTokens(other.uid, other.tokenSet).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failure).toMatchObject({ code: ErrorCode.STORE_UNAVAILABLE, status: 503, retryAfter: expect.any(Number) });
    expect(String((failure as { cause?: { message?: unknown } }).cause?.message)).toMatch(/^OOM /);
    // The failure was not hidden as "no tokens": the user simply has none stored yet.
    expect(await t.vault.getTokenSet(other.uid)).toBeNull();

    // Reads need no memory: a signed-in user with a valid token is not affected.
    expect(await t.vault.getAccessToken(t.userId)).toBe(stored);
    expect((await request(t.app).get('/api').set('Accept', 'application/json').expect(200)).body.token).toBe(stored);

    await free();
    await t.vault.saveTokens(other.uid, other.tokenSet);
    expect((await t.vault.getTokenSet(other.uid))?.accessToken).toBe(other.tokenSet.accessToken);
    expect(unhandled).toEqual([]);
  });

  test('a refresh whose fenced write hits OOM: 503 store_unavailable; once memory is freed the old refresh token refreshes (nothing lost)', async () => {
    const { tokenSet } = await env.signIn(env.sandbox.users.get(t.userId)!.email);
    await t.vault.saveTokens(t.userId, expired(tokenSet));
    env.sandbox.resetCounts();
    t.onTokenResponse = async () => {
      t.onTokenResponse = undefined;
      await fill();
    };

    const first = await callApi(t.app);
    expect(first.ms).toBeLessThan(NO_HANG_MS);
    expectStoreUnavailable(first.res);
    expect(first.res.body.error).toBe(ErrorCode.STORE_UNAVAILABLE);
    expect(env.sandbox.counts().token.refresh_token).toBe(1);
    // Nobody got the set that could not be written: the stored one is still the old pair.
    expect((await t.vault.getTokenSet(t.userId))?.refreshToken).toBe(tokenSet.refreshToken);

    // Still full: the refresh cannot even take its lock, so the provider is not asked again.
    expectStoreUnavailable((await callApi(t.app)).res);
    expect(env.sandbox.counts().token.refresh_token).toBe(1);

    await free();
    const { body } = await request(t.app).get('/api').set('Accept', 'application/json').expect(200);
    expect(body.token).not.toBe(tokenSet.accessToken);
    expect(env.sandbox.counts().token).toMatchObject({ refresh_token: 2, authorization_code: 0, failed: 0 });
    expect((await t.vault.getTokenSet(t.userId))?.accessToken).toBe(body.token);
    await expectWorkingGrant(env, t.vault, t.userId);
    expect(unhandled).toEqual([]);
  });
});
