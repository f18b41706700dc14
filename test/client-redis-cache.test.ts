import { Redis } from 'ioredis';
import { RedisAppTokenCache, type FractalClient, type FractalClientOptions } from '../lib/client';
import { ErrorCode, type FractalError } from '../lib/errors';
import { generateEncryptionKey, type EncryptionKey } from '../lib/tokens';
import { REDIRECT_URI } from './helpers/sandbox';
import { startClientSandbox, tokenRequests, type ClientSandbox } from './helpers/client-sandbox';
import { connectRedis, deletePrefix, freePort, randomPrefix, startRedisServer, SHARED_REDIS } from './helpers/redis';

/**
 * Cross-process behaviour is tested with several `FractalClient`s in this process, each with its
 * own ioredis connection and its own `RedisAppTokenCache`: they share no JavaScript state (no
 * in-process single-flight, no memory copy of the token), so Redis is their only link, exactly as
 * between processes. A delay on the token endpoint makes their fetches overlap deterministically,
 * which forked processes (with their variable start-up time on a busy machine) could not promise.
 */

let env: ClientSandbox;
let admin: Redis;
let prefix: string;
const opened: { cache: RedisAppTokenCache; redis: Redis }[] = [];
/** One deployment's keys, shared by its "processes". */
const encryptionKeys = generateEncryptionKey();

beforeEach(async () => {
  env = await startClientSandbox();
  admin = await connectRedis();
  prefix = randomPrefix('client');
});
afterEach(async () => {
  for (const { cache, redis } of opened.splice(0)) {
    await cache.close();
    redis.disconnect();
  }
  await deletePrefix(admin, prefix);
  admin.disconnect();
  await env.close();
});

/** A "process": its own Redis connection, cache and client. */
async function processClient(options: Partial<FractalClientOptions> = {}, redis?: Redis, keys: EncryptionKey = encryptionKeys): Promise<FractalClient> {
  const connection = redis ?? (await connectRedis());
  const cache = new RedisAppTokenCache({ client: connection, prefix, operationTimeoutMs: 300, encryptionKeys: keys });
  opened.push({ cache, redis: connection });
  return env.client({ tokenCache: cache, ...options });
}

const times = <T>(n: number, fn: () => Promise<T>) => Promise.all(Array.from({ length: n }, fn));

test('100 concurrent callers spread over two processes make one token request', async () => {
  const a = await processClient();
  const b = await processClient();
  env.sandbox.injectFault('token', { kind: 'delay', ms: 300 });

  const results = await Promise.all([times(50, () => a.stats.totalVerifications()), times(50, () => b.stats.totalVerifications())]);

  expect(results.flat()).toHaveLength(100);
  expect(tokenRequests(env.sandbox)).toBe(1);
  expect(await a.getAppToken()).toBe(await b.getAppToken());
});

test('a process started later reuses the token another one cached', async () => {
  const a = await processClient();
  await a.stats.totalVerifications();

  const b = await processClient();
  await b.stats.countryVerifications();

  expect(tokenRequests(env.sandbox)).toBe(1);
  expect(await b.getAppToken()).toBe(await a.getAppToken());
});

test('the Redis key holds no secret and expires a margin before the token; the lock is released', async () => {
  const client = await processClient();
  await client.stats.totalVerifications();

  const keys = await admin.keys(`${prefix}*`);
  expect(keys).toHaveLength(1);
  const key = keys[0] as string;
  expect(key).toMatch(new RegExp(`^${prefix}\\{[0-9a-f]{64}\\}:tokens$`));
  expect(key).not.toContain(env.credentials.clientID);
  expect(JSON.stringify(await admin.hgetall(key))).not.toContain(env.credentials.clientSecret);
  // Sandbox tokens live 7200 s (provider default); the default margin is 60 s.
  const ttl = await admin.pttl(key);
  expect(ttl).toBeGreaterThan(7_137_000);
  expect(ttl).toBeLessThanOrEqual(7_140_000);
});

test('an unreadable cache entry is replaced by a new token instead of failing the call', async () => {
  await (await processClient()).stats.totalVerifications();
  const [key] = await admin.keys(`${prefix}*`);
  await admin.hset(key as string, 'd', 'not json');

  await expect((await processClient()).stats.totalVerifications()).resolves.toMatchObject({ approved: 0 });

  expect(tokenRequests(env.sandbox)).toBe(2);
  expect(await admin.hget(key as string, 'd')).toMatch(/^f1\./);
});

test('Redis holds the app token sealed: the raw value contains no token and is not JSON', async () => {
  const client = await processClient();
  await client.stats.totalVerifications();
  const token = await client.getAppToken();
  const [key] = await admin.keys(`${prefix}*`);
  const raw = JSON.stringify(await admin.hgetall(key as string));
  expect(raw).not.toContain(token);
  expect(raw).not.toContain('accessToken');
  expect(raw).not.toContain('client.stats:read');
  // Another process with the same keys reads it without a token request.
  expect(await (await processClient()).getAppToken()).toBe(token);
  expect(tokenRequests(env.sandbox)).toBe(1);
});

test('a process with other keys fetches a new token instead of failing', async () => {
  await (await processClient()).stats.totalVerifications();
  await expect((await processClient({}, undefined, generateEncryptionKey())).stats.totalVerifications()).resolves.toMatchObject({ approved: 0 });
  expect(tokenRequests(env.sandbox)).toBe(2);
});

test("an app's sealed token copied under another app's cache key does not open there", async () => {
  const other = env.sandbox.registerClient({ redirectUris: [REDIRECT_URI] });
  const a = await processClient();
  await a.stats.totalVerifications();
  const [keyA] = await admin.keys(`${prefix}*`);
  const b = await processClient(other);
  await b.stats.totalVerifications();
  const keyB = (await admin.keys(`${prefix}*`)).find((k) => k !== keyA) as string;
  await admin.hset(keyB, 'd', (await admin.hget(keyA as string, 'd')) as string);
  // A new process of app B must not pick up app A's token.
  expect(await (await processClient(other)).getAppToken()).not.toBe(await a.getAppToken());
});

test('RedisAppTokenCache refuses to start without encryptionKeys', async () => {
  const connection = await connectRedis();
  try {
    expect(() => new RedisAppTokenCache({ client: connection } as never)).toThrow(expect.objectContaining({ code: 'configuration_error', message: expect.stringMatching(/encryptionKeys/) }));
  } finally {
    connection.disconnect();
  }
});

test('two apps sharing one Redis never share tokens', async () => {
  const other = env.sandbox.registerClient({ redirectUris: [REDIRECT_URI] });
  const a = await processClient();
  const b = await processClient(other);

  await Promise.all([a.stats.totalVerifications(), b.stats.totalVerifications()]);

  expect(tokenRequests(env.sandbox)).toBe(2);
  expect(await a.getAppToken()).not.toBe(await b.getAppToken());
});

test('an expiring token is fetched again once for all processes', async () => {
  env.sandbox.setTokenLifetimes({ accessToken: 2 });
  const a = await processClient({ expiryMarginMs: 200 });
  const b = await processClient({ expiryMarginMs: 200 });
  await Promise.all([a.stats.totalVerifications(), b.stats.totalVerifications()]);
  expect(tokenRequests(env.sandbox)).toBe(1);

  await new Promise((resolve) => setTimeout(resolve, 1900));
  await Promise.all([times(10, () => a.stats.totalVerifications()), times(10, () => b.stats.totalVerifications())]);

  expect(tokenRequests(env.sandbox)).toBe(2);
  expect(env.sandbox.counts().stats).toBe(22);
});

test('a 401 in one process replaces the shared token once; the other process picks it up without a token request', async () => {
  const a = await processClient();
  const b = await processClient();
  await a.stats.totalVerifications();
  await b.stats.totalVerifications();
  const first = await a.getAppToken();
  env.sandbox.setClockSkew(3 * 3600 * 1000);

  await a.stats.totalVerifications();
  expect(tokenRequests(env.sandbox)).toBe(2);

  // B still holds the rejected token in memory: one 401, then the token A wrote.
  await b.stats.totalVerifications();
  expect(tokenRequests(env.sandbox)).toBe(2);
  expect(await b.getAppToken()).toBe(await a.getAppToken());
  expect(await a.getAppToken()).not.toBe(first);
});

test('when Redis cannot be reached, calls still succeed, single-flight in the process, and onCacheError is told', async () => {
  // disconnectTimeout: ioredis otherwise keeps a 2 s timer alive for the already closed socket.
  const dead = new Redis({ host: '127.0.0.1', port: await freePort(), enableOfflineQueue: false, retryStrategy: () => 100, disconnectTimeout: 10 });
  dead.on('error', () => undefined);
  const errors: FractalError[] = [];
  const client = await processClient({ onCacheError: (err) => errors.push(err) }, dead);

  await expect(times(20, () => client.stats.totalVerifications())).resolves.toHaveLength(20);

  expect(tokenRequests(env.sandbox)).toBe(1);
  expect(errors.length).toBeGreaterThan(0);
  expect(errors[0]).toMatchObject({ code: ErrorCode.STORE_UNAVAILABLE });
});

test('a Redis that stops answering does not hang calls, even with the offline queue on', async () => {
  const server = await startRedisServer();
  try {
    // ioredis defaults: offline queue on, no command timeout (the trap of the ecosystem notes).
    const redis = new Redis({ host: SHARED_REDIS.host, port: server.port, lazyConnect: true, disconnectTimeout: 10 });
    redis.on('error', () => undefined);
    await redis.connect();
    const errors: FractalError[] = [];
    const client = await processClient({ onCacheError: (err) => errors.push(err) }, redis);
    server.pause();

    const started = Date.now();
    await expect(client.stats.totalVerifications()).resolves.toMatchObject({ approved: 0 });

    expect(Date.now() - started).toBeLessThan(2000);
    expect(errors[0]).toMatchObject({ code: ErrorCode.STORE_UNAVAILABLE });
    expect(tokenRequests(env.sandbox)).toBe(1);
  } finally {
    server.resume();
    await server.destroy();
  }
});
