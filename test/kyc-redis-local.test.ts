import { Redis } from 'ioredis';
import { createFractal, generateEncryptionKey, RedisKycCache, type KycCacheEntry } from '../lib';
import { eventually } from './helpers/eventually';
import { connectRedis, deletePrefix, randomPrefix, REQUEST_PATH_OPTIONS, SHARED_REDIS } from './helpers/redis';
import { monitorPrefix } from './helpers/vault-http';

// RedisKycCache's per-process layer, on the machine's Redis: a warm user costs no Redis command,
// and an invalidation in one process reaches the others well within 1 s, even when a
// notification is lost or the notification connection is killed. Commands are counted at the
// server (MONITOR), never inferred; each "process" has its own named ioredis connection.

/** The bound the token store promises for a revocation, asserted here for an invalidation. */
const BOUND_MS = 1000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const prefix = randomPrefix('kyc-local');
const tag = prefix.slice(-13, -1);
const entry = (fetchedAt = Date.now()): KycCacheEntry => ({
  scopes: 'uid:read verification.basic:read',
  cases: [{ level: 'basic', status: 'done', credential: 'approved' }] as KycCacheEntry['cases'],
  fetchedAt,
});
const user = () => `user-${Math.random().toString(36).slice(2)}`;

let admin: Redis;
const clients: Redis[] = [];
const caches: RedisKycCache[] = [];
let processes = 0;
const latencies: Record<string, number> = {};

/** Like another Node process: a connection of its own, named so that a test can find and kill its subscriber. */
async function newProcess(options: { localTtlMs?: number } = {}): Promise<{ name: string; cache: RedisKycCache }> {
  const name = `pfi-kyc-local-${tag}-${processes++}`;
  const client = new Redis({ ...SHARED_REDIS, ...REQUEST_PATH_OPTIONS, connectionName: name, retryStrategy: () => 50, lazyConnect: true });
  client.on('error', () => undefined);
  clients.push(client);
  await client.connect();
  const cache = new RedisKycCache({ client, prefix, ...options });
  caches.push(cache);
  return { name, cache };
}

/** Reads until they are served in process: two reads in a row send no command for this prefix. */
async function warm(cache: RedisKycCache, userId: string): Promise<void> {
  const monitor = await monitorPrefix(admin, prefix);
  try {
    await eventually(async () => {
      expect((await cache.read(userId)).entry).toBeDefined();
      await monitor.settle();
      const before = monitor.commands.length;
      expect((await cache.read(userId)).entry).toBeDefined();
      await monitor.settle();
      expect(monitor.commands.slice(before)).toEqual([]);
    }, 5000);
  } finally {
    monitor.stop();
  }
}

async function stored(cache: RedisKycCache, userId: string): Promise<void> {
  await cache.write(userId, (await cache.read(userId)).generation, entry());
}

/** Polls `cache` until its read misses; ms since `since`. */
async function timeUntilMiss(cache: RedisKycCache, userId: string, since: number): Promise<number> {
  for (;;) {
    if ((await cache.read(userId)).entry === undefined) return Date.now() - since;
    if (Date.now() - since > 10 * BOUND_MS) throw new Error('the entry was still served 10 s after the invalidation');
    await sleep(2);
  }
}

/** The subscriber connections of a named "process" (pattern or channel subscriptions). */
async function subscribersOf(name: string): Promise<string[]> {
  const list = String(await admin.call('client', 'list')).split('\n');
  return list.filter((line) => line.includes(`name=${name} `) && /\b(?:sub|psub)=[1-9]/.test(line));
}

beforeAll(async () => {
  admin = await connectRedis({ connectionName: `pfi-kyc-local-${tag}-admin` });
});
afterAll(async () => {
  await Promise.all(caches.map((c) => c.close()));
  for (const client of clients) client.disconnect();
  // The measured numbers, for whoever reads the run (the assertions hold the bound).
  console.info(`RedisKycCache invalidation latency (ms): ${JSON.stringify(latencies)}`);
  await deletePrefix(admin, prefix);
  admin.disconnect();
});

test('a warm user costs no Redis command per read; localTtlMs: 0 costs one MGET per read', async () => {
  const { cache } = await newProcess();
  const off = (await newProcess({ localTtlMs: 0 })).cache;
  const id = user();
  await stored(off, id);
  const monitor = await monitorPrefix(admin, prefix);
  try {
    // One monitor for warming and counting: the 50 reads fit in the same localTtlMs.
    await eventually(async () => {
      expect((await cache.read(id)).entry).toBeDefined();
      await monitor.settle();
      const before = monitor.commands.length;
      for (let i = 0; i < 50; i++) expect((await cache.read(id)).entry?.scopes).toBe('uid:read verification.basic:read');
      await monitor.settle();
      expect(monitor.commands.slice(before)).toEqual([]);
    }, 5000);

    const before = monitor.commands.length;
    for (let i = 0; i < 10; i++) expect((await off.read(id)).entry).toBeDefined();
    await monitor.settle();
    const sent = monitor.commands.slice(before);
    expect(sent).toHaveLength(10);
    expect(sent.every((c) => c[0]?.toLowerCase() === 'mget')).toBe(true);
  } finally {
    monitor.stop();
  }
});

test("an invalidation in one process reaches another's next read through the notification, far within localTtlMs", async () => {
  // A long localTtlMs: only the notification can make B miss within the bound.
  const a = (await newProcess()).cache;
  const b = (await newProcess({ localTtlMs: 60_000 })).cache;
  const id = user();
  await stored(a, id);
  await warm(b, id);
  const since = Date.now();
  await a.invalidate(id);
  latencies.notified = await timeUntilMiss(b, id, since);
  expect(latencies.notified).toBeLessThan(BOUND_MS);
});

test('with the notification connection killed (CLIENT KILL), another process still misses within the bound', async () => {
  const a = (await newProcess()).cache;
  const b = await newProcess({ localTtlMs: 60_000 });
  const id = user();
  await stored(a, id);
  await warm(b.cache, id);
  const [subscriber] = await subscribersOf(b.name);
  const clientId = /(?:^|\s)id=(\d+)/.exec(subscriber ?? '')?.[1];
  expect(clientId).toBeDefined();
  expect(Number(await admin.call('client', 'kill', 'id', clientId as string))).toBe(1);
  // Published while B cannot hear it (it resubscribes 50 ms later): B forgot everything on the close.
  const since = Date.now();
  await a.invalidate(id);
  latencies.afterClientKill = await timeUntilMiss(b.cache, id, since);
  expect(latencies.afterClientKill).toBeLessThan(BOUND_MS);
  // And once subscribed again, B serves in process again, and hears the next invalidation.
  await stored(a, id);
  await warm(b.cache, id);
  const again = Date.now();
  await a.invalidate(id);
  expect(await timeUntilMiss(b.cache, id, again)).toBeLessThan(BOUND_MS);
});

test('a lost notification (the connection stayed up) delays a miss by localTtlMs at most', async () => {
  const b = (await newProcess()).cache;
  const id = user();
  await stored(b, id);
  await warm(b, id);
  // An invalidation that tells nobody: what INVALIDATE does, without its PUBLISH.
  const since = Date.now();
  await admin.multi().incr(`${prefix}{${id}}:gen`).del(`${prefix}{${id}}`).exec();
  latencies.lostNotification = await timeUntilMiss(b, id, since);
  // Default localTtlMs (750): the entry ends there, whatever Redis delivers.
  expect(latencies.lostNotification).toBeLessThan(BOUND_MS);
});

test("the invalidating process's own next read misses, even one sent before invalidate() resolved", async () => {
  const a = (await newProcess({ localTtlMs: 60_000 })).cache;
  const id = user();
  await stored(a, id);
  await warm(a, id);
  // The script loaded first: a NOSCRIPT retry would send the EVAL after the read below.
  await a.invalidate(user());
  const invalidated = a.invalidate(id);
  const read = await a.read(id);
  await invalidated;
  expect(read.entry).toBeUndefined();
});

test('generation race: a write under the generation of a local hit is refused after another process invalidated', async () => {
  const a = (await newProcess()).cache;
  const b = (await newProcess({ localTtlMs: 60_000 })).cache;
  const fresh = (await newProcess({ localTtlMs: 0 })).cache;
  const id = user();
  await stored(a, id);
  await warm(b, id);
  const monitor = await monitorPrefix(admin, prefix);
  let started: Awaited<ReturnType<RedisKycCache['read']>>;
  try {
    await monitor.settle();
    const before = monitor.commands.length;
    started = await b.read(id); // a local hit: a provider read begins...
    await monitor.settle();
    expect(monitor.commands.slice(before)).toEqual([]);
  } finally {
    monitor.stop();
  }
  expect(started.entry).toBeDefined();
  await a.invalidate(id); // ...a webhook lands on another process...
  await b.write(id, started.generation, { ...entry(), fetchedAt: 2 }); // ...the old answer comes back
  expect((await fresh.read(id)).entry).toBeUndefined();
  const after = await b.read(id);
  expect(after.entry).toBeUndefined();
  expect(after.generation).not.toBe(started.generation);
  // Under the new generation a write is stored, and this process serves it at once.
  await b.write(id, after.generation, { ...entry(), fetchedAt: 3 });
  expect((await fresh.read(id)).entry?.fetchedAt).toBe(3);
  expect((await b.read(id)).entry?.fetchedAt).toBe(3);
});

test('localTtlMs must be 0 or a positive number', () => {
  expect(() => new RedisKycCache({ client: admin, prefix, localTtlMs: -1 })).toThrow(/localTtlMs/);
  expect(() => new RedisKycCache({ client: admin, prefix, localTtlMs: Number.NaN })).toThrow(/localTtlMs/);
  expect(() => new RedisKycCache({ client: admin, prefix, localTtlMs: 0 })).not.toThrow();
});

test('close() ends the subscription; createFractal closes the KYC cache it made', async () => {
  const b = await newProcess();
  const id = user();
  await stored(b.cache, id);
  await warm(b.cache, id);
  expect(await subscribersOf(b.name)).toHaveLength(1);
  await b.cache.close();
  await eventually(async () => expect(await subscribersOf(b.name)).toEqual([]), 2000);

  const name = `pfi-kyc-local-${tag}-fractal`;
  const redis = await connectRedis({ connectionName: name });
  clients.push(redis);
  const fractal = createFractal({
    clientID: 'client',
    clientSecret: 'secret',
    callbackURL: 'http://127.0.0.1:3999/auth/fractal/callback',
    encryptionKeys: generateEncryptionKey(),
    redis,
    redisPrefix: prefix,
  });
  await fractal.kyc.cache.read(id);
  await eventually(async () => expect(await subscribersOf(name)).toHaveLength(1), 2000);
  await fractal.close();
  await eventually(async () => expect(await subscribersOf(name)).toEqual([]), 2000);
});
