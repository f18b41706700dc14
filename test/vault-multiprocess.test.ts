import type { Redis } from 'ioredis';
import { createFractalVault, generateEncryptionKey, RedisTokenStore } from '../lib/tokens';
import { fetchFractalUser } from '../lib/provider/user-info';
import { connectRedis, deletePrefix, randomPrefix, SHARED_REDIS } from './helpers/redis';
import { expired, startVaultSandbox, type VaultSandbox } from './helpers/vault-sandbox';
import { forkVaultWorker, stormForOneRefresh, type VaultWorker } from './helpers/vault-workers';

jest.setTimeout(60_000);

describe('token vault across separate Node processes (shared Redis)', () => {
  const prefix = randomPrefix('multiprocess');
  const encryptionKeys = [generateEncryptionKey()];
  let env: VaultSandbox;
  let redis: Redis;
  let store: RedisTokenStore;
  const workers: VaultWorker[] = [];

  const workerConfig = (extra: { lockTtlMs?: number; crashAfterTokenResponse?: boolean } = {}) => ({
    redis: SHARED_REDIS,
    prefix,
    encryptionKeys,
    ...env.client,
    domains: env.sandbox.domains,
    ...extra,
  });
  const localVault = (lockTtlMs?: number) =>
    createFractalVault({
      store,
      encryptionKeys,
      ...env.client,
      domains: env.sandbox.domains,
      ...(lockTtlMs !== undefined ? { lockTtlMs } : {}),
    });

  beforeAll(async () => {
    env = await startVaultSandbox();
    redis = await connectRedis();
    store = new RedisTokenStore({ client: redis, prefix });
  });
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await store.close();
    await deletePrefix(redis, prefix);
    redis.disconnect();
    await env.close();
  });

  test('200 concurrent getAccessToken() calls in 4 processes for an expired token cause exactly 1 refresh, and all get the same new token', async () => {
    const { uid, tokenSet } = await env.signIn();
    await localVault().saveTokens(uid, expired(tokenSet));
    const storm = [0, 1, 2, 3].map(() => forkVaultWorker(workerConfig()));
    workers.push(...storm);
    const token = await stormForOneRefresh(storm, env, uid, tokenSet.accessToken);
    // The token everyone got is the one stored, and the provider accepts it.
    expect((await localVault().getTokenSet(uid))?.accessToken).toBe(token);
    expect((await fetchFractalUser(token, { resourceURL: env.sandbox.domains.resource })).uid).toBe(uid);
    await Promise.all(storm.map((w) => w.stop()));
  });

  test('a process SIGKILLed after the token response and before the write does not log the user out', async () => {
    const { uid, tokenSet } = await env.signIn();
    const lockTtlMs = 1500;
    const vault = localVault(lockTtlMs);
    await vault.saveTokens(uid, expired(tokenSet));
    const before = await redis.hget(store.keysFor(uid).tokens, 'v');
    const doomed = forkVaultWorker(workerConfig({ lockTtlMs, crashAfterTokenResponse: true }));
    workers.push(doomed);
    await doomed.ready;
    env.sandbox.resetCounts();

    await expect(doomed.storm(uid, 5)).rejects.toThrow(/exited/);
    expect((await doomed.exited).signal).toBe('SIGKILL');
    // The provider rotated, but the new pair died with the process: the store still has the old one.
    expect(env.sandbox.counts().token.refresh_token).toBe(1);
    expect(await redis.hget(store.keysFor(uid).tokens, 'v')).toBe(before);

    // The next request (another process) waits out the dead holder's lock, then refreshes with the old refresh token.
    const start = Date.now();
    const token = await vault.getAccessToken(uid);
    expect(Date.now() - start).toBeLessThan(lockTtlMs + 3000);
    expect(token).not.toBe(tokenSet.accessToken);
    expect(env.sandbox.counts().token).toMatchObject({ refresh_token: 2, failed: 0 });
    expect((await vault.fetchUser(uid)).uid).toBe(uid);

    // The rotation chain is intact: the stored refresh token keeps working.
    const stored = await vault.getTokenSet(uid);
    await vault.saveTokens(uid, expired(stored!));
    expect(await vault.getAccessToken(uid)).not.toBe(token);
    expect(env.sandbox.counts().token).toMatchObject({ refresh_token: 3, failed: 0 });
  });
});
