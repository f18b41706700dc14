import { createFractalVault, generateEncryptionKey, MemoryTokenStore, RedisTokenStore, type TokenStore } from '../lib/tokens';
import { connectRedis, REQUEST_PATH_OPTIONS, startRedisServer, type RedisServer } from './helpers/redis';

const vaultOn = (store: TokenStore) => createFractalVault({ store, encryptionKeys: generateEncryptionKey(), clientID: 'id', clientSecret: 'secret' });

/** `vault.check()` against a private redis-server started with the given settings. */
async function checkWith(args: string[], options: { persist?: boolean } = {}) {
  const server = await startRedisServer({ args, ...options });
  const client = await connectRedis({ port: server.port });
  const store = new RedisTokenStore({ client, prefix: 'check:' });
  try {
    return await vaultOn(store).check();
  } finally {
    await store.close();
    client.disconnect();
    await server.destroy();
  }
}

const codes = (result: { warnings: { code: string }[] }) => result.warnings.map((w) => w.code).sort();

describe('vault.check(): what Redis settings put grants at risk', () => {
  it.each(['allkeys-lru', 'volatile-lru', 'volatile-ttl', 'allkeys-random'])('warns that %s may evict token records (they have a TTL)', async (policy) => {
    const result = await checkWith(['--maxmemory', '64mb', '--maxmemory-policy', policy], { persist: true });
    expect(result.ok).toBe(false);
    expect(codes(result)).toEqual(['eviction_policy']);
    expect(result.warnings[0]?.message).toContain(policy);
    expect(result.warnings[0]?.message).toContain('noeviction');
  });

  it('is ok with noeviction and AOF', async () => {
    expect(await checkWith(['--maxmemory-policy', 'noeviction'], { persist: true })).toEqual({ ok: true, warnings: [] });
  });

  it('warns that a Redis without persistence loses every grant on restart', async () => {
    const result = await checkWith(['--maxmemory-policy', 'noeviction']);
    expect(codes(result)).toEqual(['no_persistence']);
    expect(result.warnings[0]?.message).toMatch(/appendonly yes/);
  });

  it('warns that RDB snapshots alone lose recent writes', async () => {
    expect(codes(await checkWith(['--maxmemory-policy', 'noeviction', '--save', '900 1']))).toEqual(['snapshot_persistence']);
  });

  it('tolerates a refused CONFIG (renamed, as managed services do): a warning, not a rejection', async () => {
    const result = await checkWith(['--rename-command', 'CONFIG', '""']);
    expect(result).toMatchObject({ ok: false, warnings: [{ code: 'settings_unknown' }] });
  });

  it('reports an unreachable Redis as a warning', async () => {
    const server: RedisServer = await startRedisServer();
    const client = await connectRedis({ port: server.port, ...REQUEST_PATH_OPTIONS });
    const store = new RedisTokenStore({ client, prefix: 'check:' });
    await server.kill();
    try {
      expect(await vaultOn(store).check()).toMatchObject({ ok: false, warnings: [{ code: 'store_unavailable' }] });
    } finally {
      await store.close();
      client.disconnect();
      await server.destroy();
    }
  });

  it('says a MemoryTokenStore is neither shared nor persistent', async () => {
    const store = new MemoryTokenStore();
    expect(await vaultOn(store).check()).toMatchObject({ ok: false, warnings: [{ code: 'memory_store' }] });
    await store.close();
  });
});
