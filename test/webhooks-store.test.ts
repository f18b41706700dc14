import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { MemoryWebhookStore, RedisWebhookStore, type WebhookStore } from '../lib/webhooks';
import { connectRedis, deletePrefix, freePort, randomPrefix, SHARED_REDIS } from './helpers/redis';
import { monitorPrefix } from './helpers/vault-http';

let redis: Redis;
const prefix = randomPrefix('webhooks');

beforeAll(async () => {
  redis = await connectRedis();
});
afterAll(async () => {
  await deletePrefix(redis, prefix);
  redis.disconnect();
});

const stores: [string, (ttls?: { processingTtlMs?: number; doneTtlMs?: number }) => WebhookStore][] = [
  ['MemoryWebhookStore', (ttls) => new MemoryWebhookStore(ttls)],
  ['RedisWebhookStore', (ttls) => new RedisWebhookStore({ client: redis, prefix, ...ttls })],
];

let counter = 0;
const id = (): string => `delivery-${process.pid}-${++counter}`;

describe.each(stores)('%s', (_name, make) => {
  it('gives a delivery to exactly one of many concurrent claimers', async () => {
    const store = make();
    const delivery = id();
    const claims = await Promise.all(Array.from({ length: 20 }, () => store.claim(delivery)));
    expect(claims.filter((c) => c.state === 'claimed')).toHaveLength(1);
    expect(claims.filter((c) => c.state === 'processing')).toHaveLength(19);
  });

  it('answers done after complete, and claimable again after release', async () => {
    const store = make();
    const done = id();
    const first = await store.claim(done);
    if (first.state !== 'claimed') throw new Error('expected a claim');
    await store.complete(done, first.token);
    expect(await store.claim(done)).toEqual({ state: 'done' });

    const failed = id();
    const claim = await store.claim(failed);
    if (claim.state !== 'claimed') throw new Error('expected a claim');
    await store.release(failed, claim.token);
    expect((await store.claim(failed)).state).toBe('claimed');
  });

  it('does not release a claim that is no longer the caller\'s', async () => {
    const store = make({ processingTtlMs: 30 });
    const delivery = id();
    const old = await store.claim(delivery);
    await new Promise((resolve) => setTimeout(resolve, 60));
    const fresh = await store.claim(delivery);
    expect(fresh.state).toBe('claimed');
    if (old.state === 'claimed') await store.release(delivery, old.token);
    expect((await store.claim(delivery)).state).toBe('processing');
  });

  it('frees a claim whose process died once processingTtlMs passed', async () => {
    const store = make({ processingTtlMs: 40 });
    const delivery = id();
    await store.claim(delivery);
    expect((await store.claim(delivery)).state).toBe('processing');
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect((await store.claim(delivery)).state).toBe('claimed');
  });

  it('keeps the newest timestamp, whatever the arrival order, also under concurrency', async () => {
    const store = make();
    const key = `user-${id()}`;
    expect(await store.keepNewest(key, 2000)).toBe(2000);
    expect(await store.keepNewest(key, 1000)).toBe(2000);
    expect(await store.keepNewest(key, 2000)).toBe(2000);
    expect(await store.keepNewest(key, 3000)).toBe(3000);
    const concurrent = `user-${id()}`;
    const stamps = Array.from({ length: 30 }, (_, i) => 1_600_000_000_000 + ((i * 7919) % 30) * 1000);
    const results = await Promise.all(stamps.map((t) => store.keepNewest(concurrent, t)));
    results.forEach((newest, i) => {
      expect(newest).toBeGreaterThanOrEqual(stamps[i] as number);
    });
    expect(await store.keepNewest(concurrent, 0)).toBe(Math.max(...stamps));
  });
});

describe('MemoryWebhookStore answers', () => {
  const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

  it('the claims of one turn of the event loop together, in the next turn, each decided at once', async () => {
    const store = new MemoryWebhookStore();
    const answered: string[] = [];
    const noted = <T>(name: string, claim: Promise<T>): Promise<T> =>
      claim.then((c) => {
        answered.push(name);
        return c;
      });
    const claims = [noted('a', store.claim('turn-a')), noted('a again', store.claim('turn-a')), noted('b', store.claimOrdered('turn-b', 'user-1:basic', 1000))];
    // Microtasks alone do not answer them: they wait for the turn to end.
    for (let i = 0; i < 10; i++) await Promise.resolve();
    expect(answered).toEqual([]);
    await nextTurn();
    expect(answered).toEqual(['a', 'a again', 'b']);
    const [first, copy, ordered] = await Promise.all(claims);
    expect(first).toMatchObject({ state: 'claimed' });
    // Decided when asked: the copy in the same turn found the first claim.
    expect(copy).toEqual({ state: 'processing' });
    expect(ordered).toMatchObject({ state: 'claimed', newest: 1000 });
  });

  it('done for a claim after the delivery was completed', async () => {
    const store = new MemoryWebhookStore();
    const claim = await store.claim('turn-c');
    if (claim.state !== 'claimed') throw new Error('not claimed');
    await store.complete('turn-c', claim.token);
    expect(await store.claim('turn-c')).toEqual({ state: 'done' });
  });
});

describe('RedisWebhookStore in Redis', () => {
  it('stores claims and done marks with the configured TTLs (read back from Redis)', async () => {
    const store = new RedisWebhookStore({ client: redis, prefix, processingTtlMs: 45_000, doneTtlMs: 3_600_000 });
    const delivery = id();
    const claim = await store.claim(delivery);
    const key = store.keys().delivery(delivery);
    expect(await redis.pttl(key)).toBeGreaterThan(44_000);
    expect(await redis.pttl(key)).toBeLessThanOrEqual(45_000);
    if (claim.state !== 'claimed') throw new Error('expected a claim');
    await store.complete(delivery, claim.token);
    expect(await redis.get(key)).toBe('done');
    expect(await redis.pttl(key)).toBeGreaterThan(3_590_000);
  });

  it('an ordered claim records the event time with orderingTtlMs, keeps the newest, and refreshes the TTL (read back from Redis)', async () => {
    const store = new RedisWebhookStore({ client: redis, prefix, orderingTtlMs: 600_000 });
    const ordering = JSON.stringify(['verification', `u-${id()}`, 'basic']);
    const newestKey = store.keys().newest(ordering);
    // The first event of a user and level: the key is new (one SET NX GET on Redis >= 7).
    expect(await store.claimOrdered(id(), ordering, 2000)).toMatchObject({ state: 'claimed', newest: 2000 });
    expect(await redis.get(newestKey)).toBe('2000');
    expect(await redis.pttl(newestKey)).toBeGreaterThan(590_000);
    expect(await redis.pttl(newestKey)).toBeLessThanOrEqual(600_000);
    // An older event learns the newer time and leaves it; the TTL is refreshed.
    await redis.pexpire(newestKey, 10_000);
    expect(await store.claimOrdered(id(), ordering, 1000)).toMatchObject({ state: 'claimed', newest: 2000 });
    expect(await redis.get(newestKey)).toBe('2000');
    expect(await redis.pttl(newestKey)).toBeGreaterThan(590_000);
    // A newer one replaces it.
    expect(await store.claimOrdered(id(), ordering, 3000)).toMatchObject({ state: 'claimed', newest: 3000 });
    expect(await redis.get(newestKey)).toBe('3000');
    // A value that is not a number (written by hand) is replaced, as before.
    await redis.set(newestKey, 'junk');
    expect(await store.claimOrdered(id(), ordering, 500)).toMatchObject({ state: 'claimed', newest: 500 });
    await store.flush();
  });

  it('keeps no user id in key names', async () => {
    const store = new RedisWebhookStore({ client: redis, prefix });
    const key = JSON.stringify(['verification', 'alice-uid', 'basic']);
    await store.keepNewest(key, 1);
    // KEYS over this test's own prefix: one SCAN batch can miss it when other suites filled Redis.
    const keys = await redis.keys(`${prefix}newest:*`);
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.join()).not.toContain('alice');
  });

  it('fails fast with store_unavailable when Redis is unreachable', async () => {
    // Nothing listens on this port: the client keeps reconnecting, and queues nothing meanwhile.
    const client = new Redis({ host: '127.0.0.1', port: await freePort(), lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => 50, disconnectTimeout: 10 });
    client.on('error', () => undefined);
    client.connect().catch(() => undefined);
    try {
      const store = new RedisWebhookStore({ client, prefix, operationTimeoutMs: 300 });
      const started = Date.now();
      await expect(store.claim(id())).rejects.toMatchObject({ code: 'store_unavailable', status: 503 });
      expect(Date.now() - started).toBeLessThan(1000);
    } finally {
      client.disconnect();
    }
  });

  it('fails within operationTimeoutMs when Redis stops answering mid-connection', async () => {
    // A loopback proxy to the real Redis that can stop passing replies: like a paused or stuck Redis.
    let answering = true;
    const sockets = new Set<Socket>();
    const proxy = createServer((downstream) => {
      const upstream = connect(SHARED_REDIS.port, SHARED_REDIS.host);
      sockets.add(downstream).add(upstream);
      downstream.on('data', (chunk) => upstream.write(chunk));
      upstream.on('data', (chunk) => answering && downstream.write(chunk));
      downstream.on('error', () => undefined);
      upstream.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const client = await connectRedis({ port: (proxy.address() as AddressInfo).port, commandTimeout: 5000, disconnectTimeout: 10 });
    try {
      const store = new RedisWebhookStore({ client, prefix, operationTimeoutMs: 150 });
      expect((await store.claim(id())).state).toBe('claimed');
      answering = false;
      const started = Date.now();
      await expect(store.claim(id())).rejects.toMatchObject({ code: 'store_unavailable', retryAfter: 1 });
      await expect(store.keepNewest('k', 1)).rejects.toMatchObject({ code: 'store_unavailable' });
      expect(Date.now() - started).toBeLessThan(1000);
    } finally {
      client.disconnect();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => proxy.close(resolve));
    }
  });

  it('concurrent keepNewest from three connections: each answer is the newest the server had applied by then (MONITOR order)', async () => {
    // Every call returning "newest >= mine" holds for any store; atomicity shows only against the
    // order in which Redis executed the calls. A GET-then-SET store, or one that writes atomically
    // but answers from an earlier read, answers a smaller value than the server already held.
    const clients = await Promise.all([0, 1, 2].map(() => connectRedis()));
    const monitor = await monitorPrefix(redis, prefix);
    try {
      const racers = clients.map((client) => new RedisWebhookStore({ client, prefix }));
      const key = `user-${id()}`;
      const base = 1_700_000_000_000;
      // Warm the script cache on the server, so every call is one EVALSHA (no NOSCRIPT fallback).
      await (racers[0] as RedisWebhookStore).keepNewest(`warm-${id()}`, 1);
      const stamps = Array.from({ length: 60 }, (_, i) => base + ((i * 7919) % 60) * 1000);
      const results = await Promise.all(stamps.map((t, i) => (racers[i % 3] as RedisWebhookStore).keepNewest(key, t)));
      await monitor.settle();
      const redisKey = (racers[0] as RedisWebhookStore).keys().newest(key);
      // The first command naming the key with a stamp is where the server applied that call.
      const applied: number[] = [];
      for (const args of monitor.commands) {
        if (!args.includes(redisKey)) continue;
        const stamp = stamps.find((t) => args.includes(String(t)));
        if (stamp !== undefined && !applied.includes(stamp)) applied.push(stamp);
      }
      expect([...applied].sort()).toEqual([...stamps].sort());
      let newest = 0;
      const expected = new Map<number, number>();
      for (const stamp of applied) {
        newest = Math.max(newest, stamp);
        expected.set(stamp, newest);
      }
      expect(results).toEqual(stamps.map((t) => expected.get(t)));
      expect(await redis.get(redisKey)).toBe(String(Math.max(...stamps)));
    } finally {
      monitor.stop();
      for (const client of clients) client.disconnect();
    }
  });

  it('refuses a missing client at construction', () => {
    expect(() => new RedisWebhookStore({} as never)).toThrow(/ioredis/);
  });
});
