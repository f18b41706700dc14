import { Redis } from 'ioredis';
import { ErrorCode } from '../lib/errors';
import { MemoryTokenStore, RedisTokenStore } from '../lib/tokens';
import { connectRedis, deletePrefix, freePort, randomPrefix } from './helpers/redis';
import { describeTokenStoreContract } from './helpers/vault-store-contract';

describeTokenStoreContract('MemoryTokenStore', async () => ({ store: new MemoryTokenStore(), cleanup: async () => undefined }));

describeTokenStoreContract('RedisTokenStore on the shared Redis', async () => {
  const client = await connectRedis();
  const prefix = randomPrefix('contract');
  return {
    store: new RedisTokenStore({ client, prefix, pollIntervalMs: 1000 }),
    cleanup: async () => {
      await deletePrefix(client, prefix);
      client.disconnect();
    },
  };
});

describe('RedisTokenStore specifics', () => {
  let client: Redis;
  const prefix = randomPrefix('redis-store');
  beforeAll(async () => {
    client = await connectRedis();
  });
  afterAll(async () => {
    await deletePrefix(client, prefix);
    client.disconnect();
  });

  test('key names hold a hash of the user id inside a hash tag, never the id itself', async () => {
    const store = new RedisTokenStore({ client, prefix });
    const email = 'alice@example.com';
    await store.set(email, 'data', 60_000);
    const keys = await client.keys(`${prefix}*`);
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatch(new RegExp(`^${prefix}\\{[0-9a-f]{64}\\}:tokens$`));
    expect(keys.join(' ')).not.toContain('alice');
    const { tokens, lock } = store.keysFor(email);
    expect(tokens.slice(0, tokens.indexOf('}') + 1)).toBe(lock.slice(0, lock.indexOf('}') + 1));
  });

  test('with idSecret, key names are keyed hashes (not matchable against a list of emails)', () => {
    const plain = new RedisTokenStore({ client, prefix }).keysFor('bob@example.com').tokens;
    const keyed = new RedisTokenStore({ client, prefix, idSecret: 'server-side secret' }).keysFor('bob@example.com').tokens;
    expect(keyed).not.toBe(plain);
    expect(keyed).toMatch(/\{[0-9a-f]{64}\}/);
  });

  test('the record carries a real Redis TTL, renewed by each write', async () => {
    const store = new RedisTokenStore({ client, prefix });
    await store.set('ttl-user', 'data', 10_000);
    const { tokens } = store.keysFor('ttl-user');
    const first = await client.pttl(tokens);
    expect(first).toBeGreaterThan(8_000);
    expect(first).toBeLessThanOrEqual(10_000);
    await store.set('ttl-user', 'data', 90_000);
    expect(await client.pttl(tokens)).toBeGreaterThan(80_000);
  });

  test('a prefix with braces is refused (it would break the per-user hash tag)', () => {
    expect(() => new RedisTokenStore({ client, prefix: 'app{x}:' })).toThrow(expect.objectContaining({ code: ErrorCode.CONFIGURATION }));
  });

  test('a Redis that is not there fails fast with store_unavailable, even with ioredis defaults (offline queue on)', async () => {
    const port = await freePort();
    // Only `disconnectTimeout` differs from the defaults: it lets jest exit promptly afterwards.
    const dead = new Redis({ host: '127.0.0.1', port, disconnectTimeout: 50 });
    dead.on('error', () => undefined);
    const store = new RedisTokenStore({ client: dead, prefix, operationTimeoutMs: 500 });
    const start = Date.now();
    await expect(store.get('someone')).rejects.toMatchObject({ code: ErrorCode.STORE_UNAVAILABLE, status: 503, retryAfter: 1 });
    await expect(store.set('someone', 'x', 1000)).rejects.toMatchObject({ code: ErrorCode.STORE_UNAVAILABLE });
    await expect(store.waitForChange('someone', 1, 5000)).rejects.toMatchObject({ code: ErrorCode.STORE_UNAVAILABLE });
    expect(Date.now() - start).toBeLessThan(3000);
    await store.close();
    dead.disconnect();
  });
});
