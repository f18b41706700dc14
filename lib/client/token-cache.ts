import type { IORedisClient } from '../redis';
import { ConfigurationError } from '../errors';
import { createKeyring, MemoryTokenStore, type EncryptionKey, type Keyring } from '../tokens';
import { RedisTokenStore } from '../tokens';
import type { TokenStore } from '../tokens';

/** An app token from the client credentials grant, as cached. */
export interface AppToken {
  /** Never log it: anyone holding it can read the app's statistics until it expires. */
  accessToken: string;
  /** Epoch ms after which the provider no longer accepts it. */
  expiresAt: number;
  /** Epoch ms when it was obtained (our clock), for the expiry margin of short-lived tokens. */
  obtainedAt: number;
  /** Granted scopes (the token response is the source of truth). */
  scopes: string[];
}

/** A cached token with the cache's version of it; versions change on every write. */
export interface CachedAppToken {
  version: number;
  token: AppToken;
}

/**
 * Where app tokens live between calls, and how fetching them is coordinated. Keys are opaque
 * strings built by the client from a hash of token URL, client ID and scopes (never a secret).
 *
 * Every method rejects with a `store_unavailable` error when the backend cannot answer in time;
 * none may hang. `MemoryAppTokenCache` serves one process, `RedisAppTokenCache` all of them.
 */
export interface AppTokenCache {
  /** The cached token, or `null` when none is cached (never fetched, or expired). */
  get(key: string): Promise<CachedAppToken | null>;
  /** Caches a token for `ttlMs` (until shortly before it expires). */
  set(key: string, token: AppToken, ttlMs: number): Promise<void>;
  /** Takes the fetch lock of `key` for `ttlMs`: an owner token, or `null` when someone else holds it. */
  acquireLock(key: string, ttlMs: number): Promise<string | null>;
  /** Releases the lock if `lockToken` still owns it. */
  releaseLock(key: string, lockToken: string): Promise<void>;
  /**
   * Resolves once the cached version differs from `knownVersion` (0 when none was cached), or
   * the lock is free, or `timeoutMs` passed.
   */
  waitForChange(key: string, knownVersion: number, timeoutMs: number): Promise<void>;
  /** Releases what the cache created itself (never a Redis client it was given). */
  close(): Promise<void>;
}

/**
 * An {@link AppTokenCache} over the token vault's {@link TokenStore}, which already has exactly the
 * primitives single-flight needs: versioned records with TTLs, a lock with expiry, and change
 * notifications (pub/sub in Redis). With a keyring (Redis), tokens are sealed with AES-256-GCM
 * like the vault's user tokens, bound to their cache key: whoever reads Redis cannot call the
 * statistics API with them. In process memory (no keyring) they stay plain JSON.
 */
class StoreBackedAppTokenCache implements AppTokenCache {
  readonly #store: TokenStore;
  readonly #keyring: Keyring | undefined;

  constructor(store: TokenStore, keyring?: Keyring) {
    this.#store = store;
    this.#keyring = keyring;
  }

  async get(key: string): Promise<CachedAppToken | null> {
    const stored = await this.#store.get(key);
    if (!stored) return null;
    // Unreadable (another version of this library, another key, a clear token of before sealing,
    // manual edits): read it as an expired token, so that it is replaced under the lock and
    // waiters still know its version.
    const data = this.#keyring ? openAppToken(this.#keyring, key, stored.data) : stored.data;
    return { version: stored.version, token: (data === null ? null : decode(data)) ?? { accessToken: '', expiresAt: 0, obtainedAt: 0, scopes: [] } };
  }

  async set(key: string, token: AppToken, ttlMs: number): Promise<void> {
    const json = JSON.stringify(token);
    await this.#store.set(key, this.#keyring ? sealAppToken(this.#keyring, key, json) : json, ttlMs);
  }

  acquireLock(key: string, ttlMs: number): Promise<string | null> {
    return this.#store.acquireLock(key, ttlMs);
  }

  async releaseLock(key: string, lockToken: string): Promise<void> {
    await this.#store.releaseLock(key, lockToken);
  }

  waitForChange(key: string, knownVersion: number, timeoutMs: number): Promise<void> {
    return this.#store.waitForChange(key, knownVersion, timeoutMs);
  }

  async close(): Promise<void> {
    await this.#store.close?.();
  }
}

/**
 * App tokens in this process's memory (the default): one token request per process and expiry,
 * shared by every `FractalClient` given the same instance. Nothing is shared between processes.
 */
export class MemoryAppTokenCache extends StoreBackedAppTokenCache {
  constructor() {
    super(new MemoryTokenStore());
  }
}

export interface RedisAppTokenCacheOptions {
  /**
   * An ioredis client or cluster; the cache never closes it. For request paths use
   * `enableOfflineQueue: false` and `commandTimeout`: with the offline queue on, ioredis holds
   * commands while disconnected (the cache still gives up after `operationTimeoutMs`).
   */
  client: IORedisClient;
  /**
   * AES-256-GCM keys (32 bytes: Buffer, 64 hex digits or base64), as for the token vault: the
   * first seals, all open. The same keys in every process; the vault's `encryptionKeys` will do.
   */
  encryptionKeys: EncryptionKey | readonly EncryptionKey[];
  /** Prefix of every key and channel; must not contain `{` or `}`. Default `fractal:app:`. */
  prefix?: string;
  /** Upper bound on each Redis operation; then the operation fails with `store_unavailable`. Default 1000 ms. */
  operationTimeoutMs?: number;
  /** Fallback poll while another process fetches (notifications are the main path). Default 250 ms. */
  pollIntervalMs?: number;
}

/**
 * App tokens in Redis, shared by every process: one token request per expiry for the whole
 * deployment. Keys are `<prefix>{<sha256 of the client's cache key>}:tokens` and `...:lock`; the
 * cache key itself is a hash of token URL, client ID and scopes, so no key reveals a secret.
 * Values are sealed with `encryptionKeys` (AES-256-GCM, bound to the cache key).
 */
export class RedisAppTokenCache extends StoreBackedAppTokenCache {
  constructor(options: RedisAppTokenCacheOptions) {
    if (!options || typeof options.client?.call !== 'function') {
      throw new ConfigurationError('RedisAppTokenCache needs `client`: an ioredis Redis or Cluster instance');
    }
    if (options.encryptionKeys === undefined) {
      throw new ConfigurationError('RedisAppTokenCache needs `encryptionKeys` to seal app tokens in Redis (e.g. the vault\'s; `openssl rand -base64 32`)');
    }
    const keyring = createKeyring(options.encryptionKeys);
    super(
      new RedisTokenStore({
        client: options.client,
        prefix: options.prefix ?? 'fractal:app:',
        operationTimeoutMs: options.operationTimeoutMs ?? 1000,
        pollIntervalMs: options.pollIntervalMs ?? 250,
        // App tokens are never deleted (a rejected one is overwritten under the lock), so no
        // tombstones are written; keep the store's fencing window short anyway.
        tombstoneTtlMs: 60_000,
      }),
      keyring,
    );
  }
}

/**
 * AES-GCM associated data of an app token (NIST SP 800-38D section 5.2.1.1), in the vault's record
 * format 2 (lib/tokens/codec.ts): it binds the envelope to its key id and to the cache key, which
 * commits to token URL, client ID and scopes, so a value copied to another key does not open.
 */
function appTokenBinding(keyId: string, cacheKey: string): string {
  return JSON.stringify(['passport-fractal-id', 2, 'app-token', '', keyId, cacheKey]);
}

function sealAppToken(keyring: Keyring, cacheKey: string, json: string): string {
  return keyring.encrypt(json, appTokenBinding(keyring.currentKeyId, cacheKey));
}

/** The app token's JSON, or `null` when the value does not open (another key, tampering, a clear value). */
function openAppToken(keyring: Keyring, cacheKey: string, envelope: string): string | null {
  const keyId = keyring.keyIdOf(envelope);
  if (keyId === undefined) return null;
  try {
    return keyring.decrypt(envelope, appTokenBinding(keyId, cacheKey));
  } catch {
    return null;
  }
}

function decode(data: string): AppToken | null {
  try {
    const value: unknown = JSON.parse(data);
    if (typeof value !== 'object' || value === null) return null;
    const { accessToken, expiresAt, obtainedAt, scopes } = value as Record<string, unknown>;
    if (typeof accessToken !== 'string' || accessToken.length === 0) return null;
    if (typeof expiresAt !== 'number' || typeof obtainedAt !== 'number') return null;
    if (!Array.isArray(scopes) || !scopes.every((s) => typeof s === 'string')) return null;
    return { accessToken, expiresAt, obtainedAt, scopes: scopes as string[] };
  } catch {
    return null;
  }
}
