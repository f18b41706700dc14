import type { Redis } from 'ioredis';
import { createFractalVault, generateEncryptionKey, RedisTokenStore, type FractalVault, type FractalVaultOptions } from '../../lib/tokens';
import { connectRedis, deletePrefix, randomPrefix } from './redis';
import { startVaultSandbox, type VaultSandbox } from './vault-sandbox';

/** A sandbox, a Redis client with an isolated prefix, and a factory of vaults sharing them. */
export interface VaultEnv {
  env: VaultSandbox;
  redis: Redis;
  prefix: string;
  store: RedisTokenStore;
  encryptionKeys: string[];
  /** A vault on the shared store; each call is like another process (own in-process state). */
  vault(options?: Partial<FractalVaultOptions>): FractalVault;
  teardown(): Promise<void>;
}

export async function setUpVaultEnv(label: string): Promise<VaultEnv> {
  const env = await startVaultSandbox();
  const redis = await connectRedis();
  const prefix = randomPrefix(label);
  const store = new RedisTokenStore({ client: redis, prefix });
  const encryptionKeys = [generateEncryptionKey()];
  const extraStores: RedisTokenStore[] = [];
  return {
    env,
    redis,
    prefix,
    store,
    encryptionKeys,
    vault(options = {}) {
      if (options.store instanceof RedisTokenStore) extraStores.push(options.store);
      return createFractalVault({
        store,
        encryptionKeys,
        ...env.client,
        domains: env.sandbox.domains,
        retry: { baseDelayMs: 20, maxDelayMs: 100 },
        ...options,
      });
    },
    async teardown() {
      await Promise.all([store, ...extraStores].map((s) => s.close()));
      await deletePrefix(redis, prefix);
      redis.disconnect();
      await env.close();
    },
  };
}
