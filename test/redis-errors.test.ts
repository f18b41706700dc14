import { inspect } from 'node:util';
import type { Redis } from 'ioredis';
import { RedisAppTokenCache } from '../lib/client';
import { ErrorCode, type FractalError } from '../lib/errors';
import { RedisAdapter } from '../lib/redis';
import { generateEncryptionKey, RedisTokenStore } from '../lib/tokens';
import { startClientSandbox } from './helpers/client-sandbox';
import { connectRedis, deletePrefix, randomPrefix, startSmallRedis, type SmallRedis } from './helpers/redis';

const KEY = generateEncryptionKey();

jest.setTimeout(60_000);

/** Everything a logger could print of an error: own and hidden properties, causes, nested errors. */
const everything = (err: unknown) => inspect(err, { depth: Number.POSITIVE_INFINITY, showHidden: true });
const SECRET = `app-token-${Math.random().toString(36).slice(2)}-never-in-errors`;

async function rejection(promise: Promise<unknown>): Promise<FractalError> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (err: FractalError) => err,
  );
}

describe('Redis errors never carry the command arguments (ioredis copies them onto err.command)', () => {
  let small: SmallRedis;
  let full: Redis;
  let shared: Redis;
  const prefix = randomPrefix('redis-errors');

  beforeAll(async () => {
    small = await startSmallRedis(prefix);
    full = await connectRedis({ port: small.port });
    shared = await connectRedis();
    expect(await small.fill()).toBeGreaterThan(0);
  });
  afterAll(async () => {
    full?.disconnect();
    await small?.destroy();
    await deletePrefix(shared, prefix);
    shared?.disconnect();
  });

  test('an app token whose write hits OOM: store_unavailable, and no trace of the token in util.inspect', async () => {
    const cache = new RedisAppTokenCache({ client: full, prefix, encryptionKeys: KEY });
    try {
      const err = await rejection(cache.set('k', { accessToken: SECRET, expiresAt: Date.now() + 60_000, obtainedAt: Date.now(), scopes: [] }, 60_000));
      expect(err).toMatchObject({ code: ErrorCode.STORE_UNAVAILABLE });
      expect((err.cause as Error).message).toMatch(/^OOM /);
      expect(everything(err)).not.toContain(SECRET);
      expect(everything(err)).not.toContain('accessToken');
    } finally {
      await cache.close();
    }
  });

  test("the back-office client's onCacheError gets the OOM failure without the app token it tried to cache", async () => {
    const env = await startClientSandbox();
    const cache = new RedisAppTokenCache({ client: full, prefix, encryptionKeys: KEY });
    try {
      const errors: FractalError[] = [];
      const client = env.client({ tokenCache: cache, onCacheError: (err) => errors.push(err) });
      await client.stats.totalVerifications();
      const oom = errors.find((err) => /OOM/.test(String((err.cause as Error | undefined)?.message)));
      expect(oom).toMatchObject({ code: ErrorCode.STORE_UNAVAILABLE });
      // The cached entry is JSON with an `accessToken` field: its name (and value) must be absent.
      for (const err of errors) expect(everything(err)).not.toMatch(/accessToken|args/);
    } finally {
      await cache.close();
      await env.close();
    }
  });

  test('a token record written over a key of the wrong type (WRONGTYPE inside the script): no record data in the error', async () => {
    const store = new RedisTokenStore({ client: shared, prefix });
    await shared.set(store.keysFor('wrongtype').tokens, 'a string, not a hash');
    const err = await rejection(store.set('wrongtype', SECRET, 60_000));
    expect(err).toMatchObject({ code: ErrorCode.STORE_UNAVAILABLE });
    expect(everything(err)).toMatch(/WRONGTYPE/);
    expect(everything(err)).not.toContain(SECRET);
    await store.close();
  });

  test("Redis's own quoting of arguments (unknown command ..., with args beginning with) is cut from the message", async () => {
    const redis = new RedisAdapter('Test', shared, { operationTimeoutMs: 1000, retryAfterSeconds: 1 });
    const err = await rejection(redis.run('run a command', () => redis.call('no-such-command', [SECRET])));
    expect(err.message).toMatch(/unknown command/);
    expect(everything(err)).not.toContain(SECRET);
  });
});
