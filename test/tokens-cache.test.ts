import { Redis } from 'ioredis';
import { ErrorCode } from '../lib/errors';
import { LocalRecordCache } from '../lib/memory';
import { RedisTokenStore } from '../lib/tokens';
import { connectRedis, deletePrefix, randomPrefix, REQUEST_PATH_OPTIONS, SHARED_REDIS } from './helpers/redis';
import { monitorPrefix } from './helpers/vault-http';
import { setUpVaultEnv, type VaultEnv } from './helpers/vault-setup';
import { eventually } from './helpers/eventually';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));


describe('LocalRecordCache', () => {
  const cache = () => {
    const c = new LocalRecordCache<string>({ ttlMs: 60_000, maxEntries: 3 });
    c.setLive();
    return c;
  };

  test('keeps a result only while live, and forgets everything when the notifications go down', () => {
    const c = new LocalRecordCache<string>({ ttlMs: 60_000, maxEntries: 10 });
    c.keep('a', c.generation('a'), 'v1');
    expect(c.get('a')).toBeUndefined();
    c.setLive();
    c.keep('a', c.generation('a'), 'v1');
    expect(c.get('a')).toBe('v1');
    c.setDown();
    expect(c.get('a')).toBeUndefined();
    c.keep('a', c.generation('a'), 'v1');
    expect(c.get('a')).toBeUndefined();
  });

  test('a read that started before an invalidation is not kept, whichever arrives first', () => {
    const c = cache();
    const before = c.generation('a');
    c.invalidate('a');
    c.keep('a', before, 'old');
    expect(c.get('a')).toBeUndefined();
    c.keep('a', c.generation('a'), 'new');
    expect(c.get('a')).toBe('new');
    c.invalidate('a');
    expect(c.get('a')).toBeUndefined();
  });

  test('a read that started before the notifications went down and up again is not kept', () => {
    const c = cache();
    const before = c.generation('a');
    c.setDown();
    c.setLive();
    c.keep('a', before, 'old');
    expect(c.get('a')).toBeUndefined();
  });

  test('entries end after ttlMs and the oldest goes first beyond maxEntries', async () => {
    const short = new LocalRecordCache<string>({ ttlMs: 50, maxEntries: 10 });
    short.setLive();
    short.keep('a', short.generation('a'), 'v');
    await sleep(80);
    expect(short.get('a')).toBeUndefined();

    const c = cache();
    for (const key of ['a', 'b', 'c', 'd']) c.keep(key, c.generation(key), key);
    expect(c.size).toBe(3);
    expect(c.get('a')).toBeUndefined();
    expect(c.get('d')).toBe('d');
  });
});

describe('RedisTokenStore with cacheTtlMs (real Redis)', () => {
  const prefix = randomPrefix('cache');
  const name = `pfi-cache-${prefix.slice(-13, -1)}`;
  let redis: Redis;
  let other: RedisTokenStore;
  const stores: RedisTokenStore[] = [];
  const cached = (client: Redis = redis) => {
    const store = new RedisTokenStore({ client, prefix, cacheTtlMs: 60_000 });
    stores.push(store);
    return store;
  };
  const user = () => `user-${Math.random().toString(36).slice(2)}`;
  /** A first cached read, then wait until reads are served from the cache (the subscription is confirmed). */
  async function warm(store: RedisTokenStore, id: string): Promise<void> {
    const monitor = await monitorPrefix(redis, prefix);
    try {
      await eventually(async () => {
        await store.get(id, { cached: true });
        const before = monitor.commands.length;
        await store.get(id, { cached: true });
        await monitor.settle();
        expect(monitor.commands.length).toBe(before);
      });
    } finally {
      monitor.stop();
    }
  }

  beforeAll(async () => {
    redis = await connectRedis({ connectionName: name });
    other = new RedisTokenStore({ client: redis, prefix });
  });
  afterAll(async () => {
    await Promise.all([other, ...stores].map((s) => s.close()));
    await deletePrefix(redis, prefix);
    redis.disconnect();
  });

  test('a cached read of a record costs no Redis command; an uncached one always reads Redis', async () => {
    const store = cached();
    const id = user();
    await other.set(id, 'v1', 60_000);
    await warm(store, id);
    const monitor = await monitorPrefix(redis, prefix);
    try {
      for (let i = 0; i < 50; i++) expect(await store.get(id, { cached: true })).toMatchObject({ data: 'v1' });
      await store.get(id);
      await monitor.settle();
      expect(monitor.commands.filter((c) => c[0]?.toLowerCase() === 'hmget')).toHaveLength(1);
    } finally {
      monitor.stop();
    }
  });

  test("another process's write and delete reach the cache through the change notification, long before cacheTtlMs", async () => {
    const store = cached();
    const id = user();
    await other.set(id, 'v1', 60_000);
    await warm(store, id);
    await other.set(id, 'v2', 60_000);
    await eventually(async () => expect(await store.get(id, { cached: true })).toMatchObject({ data: 'v2' }), 2000);
    await warm(store, id);
    await other.delete(id);
    await eventually(async () => expect(await store.get(id, { cached: true })).toBeNull(), 2000);
  });

  test("this process's own writes are visible to its next cached read at once", async () => {
    const store = cached();
    const id = user();
    await store.set(id, 'v1', 60_000);
    await warm(store, id);
    await store.set(id, 'v2', 60_000);
    expect(await store.get(id, { cached: true })).toMatchObject({ data: 'v2' });
    const lock = (await store.acquireLock(id, 60_000)) as string;
    const { version } = (await store.get(id)) as { version: number };
    await store.compareAndSet(id, version, 'v3', 60_000, lock);
    expect(await store.get(id, { cached: true })).toMatchObject({ data: 'v3' });
    await store.delete(id);
    expect(await store.get(id, { cached: true })).toBeNull();
  });

  test('a change made while the notification connection is down is not hidden by the cache', async () => {
    // A client of its own, so that its notification connection carries a name we can kill.
    const client = new Redis({ ...SHARED_REDIS, ...REQUEST_PATH_OPTIONS, connectionName: `${name}-kill`, retryStrategy: () => 300 });
    client.on('error', () => undefined);
    try {
      const store = cached(client);
      const id = user();
      await other.set(id, 'v1', 60_000);
      await warm(store, id);
      const list = String(await redis.call('client', 'list'));
      const subscriber = list.split('\n').find((line) => line.includes(`name=${name}-kill`) && /sub=[1-9]|psub=[1-9]/.test(line));
      expect(subscriber).toBeDefined();
      const clientId = /(?:^|\s)id=(\d+)/.exec(subscriber as string)?.[1];
      await redis.call('client', 'kill', 'id', clientId as string);
      await sleep(30);
      // Published while the store cannot hear it (it reconnects 300 ms later).
      await other.set(id, 'v2', 60_000);
      expect(await store.get(id, { cached: true })).toMatchObject({ data: 'v2' });
      // And once it hears again, it caches again.
      await warm(store, id);
      await other.set(id, 'v3', 60_000);
      await eventually(async () => expect(await store.get(id, { cached: true })).toMatchObject({ data: 'v3' }), 2000);
    } finally {
      client.disconnect();
    }
  });

  test('a prefix with glob characters still hears its own changes (the pattern is escaped)', async () => {
    const globPrefix = `${prefix}*?[x]\\:`;
    const store = new RedisTokenStore({ client: redis, prefix: globPrefix, cacheTtlMs: 60_000 });
    const writer = new RedisTokenStore({ client: redis, prefix: globPrefix });
    stores.push(store, writer);
    const id = user();
    await writer.set(id, 'v1', 60_000);
    await warm(store, id);
    await writer.set(id, 'v2', 60_000);
    await eventually(async () => expect(await store.get(id, { cached: true })).toMatchObject({ data: 'v2' }), 2000);
  });

  test('cacheTtlMs must be 0 or a positive number', () => {
    expect(() => new RedisTokenStore({ client: redis, prefix, cacheTtlMs: -1 })).toThrow(/cacheTtlMs/);
    expect(() => new RedisTokenStore({ client: redis, prefix, cacheTtlMs: Number.NaN })).toThrow(/cacheTtlMs/);
  });
});

describe('a token vault on a cached RedisTokenStore (real Redis, sandbox provider)', () => {
  let t: VaultEnv;
  beforeAll(async () => {
    t = await setUpVaultEnv('cache-vault');
  });
  afterAll(() => t.teardown());

  /**
   * Proof at the server that `vault` hands out `token` from its cache: once warm (the subscription
   * confirmed), five more calls send no command at all for this prefix (MONITOR). Without it, the
   * test below would pass just as well with the cache off, every read going to Redis.
   */
  async function expectServedFromCache(vault: ReturnType<VaultEnv['vault']>, uid: string, token: string | undefined): Promise<void> {
    const monitor = await monitorPrefix(t.redis, t.prefix);
    try {
      await eventually(async () => {
        expect(await vault.getAccessToken(uid)).toBe(token);
        await monitor.settle();
        const before = monitor.commands.length;
        for (let i = 0; i < 5; i++) expect(await vault.getAccessToken(uid)).toBe(token);
        await monitor.settle();
        expect(monitor.commands.slice(before)).toEqual([]);
      }, 2000);
    } finally {
      monitor.stop();
    }
  }

  test("another process's logout and refresh reach this process's next request", async () => {
    const here = t.vault({ store: new RedisTokenStore({ client: t.redis, prefix: t.prefix, cacheTtlMs: 60_000 }) });
    const elsewhere = t.vault();
    const { uid, tokenSet } = await t.env.signIn();
    await elsewhere.saveTokens(uid, tokenSet);
    await expectServedFromCache(here, uid, tokenSet.accessToken);

    // The resource server refuses the token elsewhere, which refreshes (rotation).
    t.env.sandbox.injectFault('userinfo', { kind: 'status', status: 401, body: '{"error":"invalid_token"}', times: 1 });
    expect((await elsewhere.fetchUser(uid)).uid).toBe(uid);
    const renewed = (await elsewhere.getTokenSet(uid))?.accessToken;
    expect(renewed).not.toBe(tokenSet.accessToken);
    await eventually(async () => expect(await here.getAccessToken(uid)).toBe(renewed), 2000);
    // The renewed set is cached in turn, so the logout below must also arrive as a notification.
    await expectServedFromCache(here, uid, renewed);

    await elsewhere.revoke(uid);
    await eventually(async () => expect(here.getAccessToken(uid)).rejects.toMatchObject({ code: ErrorCode.REAUTHENTICATION_REQUIRED }), 2000);
  });
});
