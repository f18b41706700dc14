import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { ExpiringMap } from '../memory';
import { backoffCeiling } from '../provider';
import type { VaultCheckWarning } from './check';
import type { StoredTokens, TokenStore } from './store';

export interface MemoryTokenStoreOptions {
  /** How long the version of a deleted record is kept (fencing). Default 24 hours. */
  tombstoneTtlMs?: number;
}

interface Entry {
  version: number;
  /** Absent on a tombstone. One frozen object per write, handed to every reader: the vault decrypts it once. */
  record?: Readonly<StoredTokens>;
}

interface Backoff {
  failures: number;
  until: number;
}

const DEFAULT_TOMBSTONE_TTL_MS = 24 * 60 * 60 * 1000;
const SWEEP_INTERVAL_MS = 60_000;

/**
 * Keeps token records in this process's memory: for development, tests and single-process apps.
 * Same semantics as `RedisTokenStore` (versions, fencing, TTLs, locks, notifications), but nothing
 * is shared between processes and everything is lost on restart. Records are still encrypted.
 */
export class MemoryTokenStore implements TokenStore {
  readonly #entries = new ExpiringMap<Entry>();
  /** Lock owner tokens. */
  readonly #locks = new ExpiringMap<string>();
  readonly #backoffs = new ExpiringMap<Backoff>();
  readonly #events = new EventEmitter();
  readonly #tombstoneTtlMs: number;
  readonly #sweeper: NodeJS.Timeout;

  constructor(options: MemoryTokenStoreOptions = {}) {
    this.#tombstoneTtlMs = options.tombstoneTtlMs ?? DEFAULT_TOMBSTONE_TTL_MS;
    this.#events.setMaxListeners(0);
    this.#sweeper = setInterval(() => this.#sweep(), SWEEP_INTERVAL_MS);
    this.#sweeper.unref();
  }

  async get(userId: string): Promise<StoredTokens | null> {
    return this.#entry(userId)?.record ?? null;
  }

  /** Everything is in memory, so every read is known at once: the same object until the next write. */
  peekCached(userId: string): StoredTokens | null {
    return this.#entry(userId)?.record ?? null;
  }

  async set(userId: string, data: string, ttlMs: number): Promise<number> {
    return this.#write(userId, data, ttlMs);
  }

  async compareAndSet(userId: string, expectedVersion: number, data: string, ttlMs: number, lockToken: string): Promise<number | null> {
    if (this.#locks.get(userId) !== lockToken) return null;
    const entry = this.#entry(userId);
    if (entry?.record === undefined || entry.version !== expectedVersion) return null;
    return this.#write(userId, data, ttlMs);
  }

  async delete(userId: string, expectedVersion?: number): Promise<boolean> {
    const entry = this.#entry(userId);
    if (entry?.record === undefined) return false;
    if (expectedVersion !== undefined && entry.version !== expectedVersion) return false;
    const version = entry.version + 1;
    this.#entries.set(userId, { version }, this.#tombstoneTtlMs);
    this.#events.emit(userId);
    return true;
  }

  async acquireLock(userId: string, ttlMs: number): Promise<string | null> {
    if (this.#locks.get(userId) !== undefined) return null;
    const token = randomBytes(16).toString('base64url');
    this.#locks.set(userId, token, ttlMs);
    return token;
  }

  async releaseLock(userId: string, lockToken: string): Promise<boolean> {
    if (this.#locks.get(userId) !== lockToken) return false;
    this.#locks.delete(userId);
    this.#events.emit(userId);
    return true;
  }

  async noteRefreshFailure(userId: string, backoff: { baseMs: number; maxMs: number }): Promise<number> {
    const now = Date.now();
    const failures = (this.#backoffs.get(userId)?.failures ?? 0) + 1;
    const delay = backoffCeiling(failures, backoff.baseMs, backoff.maxMs);
    this.#backoffs.set(userId, { failures, until: now + delay }, delay + backoff.maxMs);
    return delay;
  }

  async refreshBackoffMs(userId: string): Promise<number> {
    const backoff = this.#backoffs.get(userId);
    return backoff ? Math.max(0, backoff.until - Date.now()) : 0;
  }

  waitForChange(userId: string, knownVersion: number, timeoutMs: number): Promise<void> {
    const lockExpiresAt = this.#locks.expiresAt(userId);
    if ((this.#entry(userId)?.version ?? 0) !== knownVersion || lockExpiresAt === undefined) return Promise.resolve();
    // A lock that simply expires emits nothing: wake up when it does.
    const wait = Math.max(0, Math.min(timeoutMs, lockExpiresAt - Date.now() + 1));
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#events.off(userId, done);
        resolve();
      };
      const timer = setTimeout(done, wait);
      this.#events.on(userId, done);
    });
  }

  /** Memory is neither shared nor persistent: say so, so that it is not taken to production by accident. */
  async checkSettings(): Promise<VaultCheckWarning[]> {
    return [
      {
        code: 'memory_store',
        message: 'Tokens are kept in this process only (MemoryTokenStore): other processes do not see them, and a restart loses every grant. Use RedisTokenStore in production.',
      },
    ];
  }

  async close(): Promise<void> {
    clearInterval(this.#sweeper);
  }

  #write(userId: string, data: string, ttlMs: number): number {
    const version = (this.#entry(userId)?.version ?? 0) + 1;
    this.#entries.set(userId, { version, record: Object.freeze({ version, data }) }, ttlMs);
    this.#backoffs.delete(userId);
    this.#events.emit(userId);
    return version;
  }

  #entry(userId: string): Entry | undefined {
    return this.#entries.get(userId);
  }

  #sweep(): void {
    for (const map of [this.#entries, this.#locks, this.#backoffs]) map.sweep();
  }
}
