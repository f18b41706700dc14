import { ConfigurationError } from '../errors';
import type { KycCaseSummary } from './status';

/**
 * What is cached per user: the narrowed cases (level, status, credential; never `details`, which
 * hold personal data) and the granted scopes they were read under. One entry serves every
 * requirement; a grant with other scopes (the user signed in again) does not use it.
 */
export interface KycCacheEntry {
  /** The grant's scopes, sorted and space-joined. */
  scopes: string;
  cases: KycCaseSummary[];
  /** Epoch ms of the `/v2/users/me` read. */
  fetchedAt: number;
}

/** A snapshot of a user's slot: the entry (if any) and the generation it must be written back under. */
export interface KycCacheRead {
  entry: KycCacheEntry | undefined;
  /** Opaque; changes on every `invalidate()`. */
  generation: string;
}

/**
 * A per-user KYC cache with invalidation that wins races: a read of the provider that started
 * before an `invalidate()` cannot write its (possibly stale) answer back afterwards, because the
 * write carries the generation seen before the read.
 */
export interface KycCache {
  read(userId: string): Promise<KycCacheRead>;
  /**
   * The entry `read()` would resolve with right now, when it is known without I/O (a copy in
   * this process); `undefined` otherwise. Optional: with it a warm user's guarded request is
   * decided without I/O or a promise chain (issue 16).
   */
  peek?(userId: string): KycCacheEntry | undefined;
  /** Stores the entry unless the user's generation moved on since `read()`. */
  write(userId: string, generation: string, entry: KycCacheEntry): Promise<void>;
  /** Drops the user's entry; in-flight reads started before it will not be stored. Failures reject. */
  invalidate(userId: string): Promise<void>;
}

export interface KycCacheOptions {
  /**
   * How long an entry may serve without the provider, in ms. Webhooks invalidate sooner; the TTL
   * bounds the staleness when a webhook is lost or arrives late. Default 60 000.
   */
  ttlMs?: number;
}

export const DEFAULT_KYC_TTL_MS = 60_000;

export function resolveTtl(ttlMs: number | undefined): number {
  const ttl = ttlMs ?? DEFAULT_KYC_TTL_MS;
  if (!Number.isInteger(ttl) || ttl < 1) throw new ConfigurationError('KYC cache `ttlMs` must be a positive integer (milliseconds)');
  return ttl;
}

export interface MemoryKycCacheOptions extends KycCacheOptions {
  /** Oldest users are dropped beyond this many. Default 10 000. */
  maxEntries?: number;
}

interface Slot {
  generation: number;
  entry: KycCacheEntry | undefined;
  entryExpiresAt: number;
  /** The generation is kept longer than the entry, so a slow in-flight read cannot write under an old one. */
  keepUntil: number;
}

/** How much longer than the TTL a generation is remembered: more than any provider read can take. */
const GENERATION_GRACE_MS = 60_000;

/** One process only: use {@link RedisKycCache} when several processes answer requests. */
export class MemoryKycCache implements KycCache {
  readonly #slots = new Map<string, Slot>();
  readonly #ttlMs: number;
  readonly #maxEntries: number;

  constructor(options: MemoryKycCacheOptions = {}) {
    this.#ttlMs = resolveTtl(options.ttlMs);
    this.#maxEntries = options.maxEntries ?? 10_000;
    if (!Number.isInteger(this.#maxEntries) || this.#maxEntries < 1) throw new ConfigurationError('`maxEntries` must be a positive integer');
  }

  async read(userId: string): Promise<KycCacheRead> {
    const slot = this.#slot(userId);
    return { entry: slot?.entry, generation: String(slot?.generation ?? 0) };
  }

  peek(userId: string): KycCacheEntry | undefined {
    return this.#slot(userId)?.entry;
  }

  async write(userId: string, generation: string, entry: KycCacheEntry): Promise<void> {
    const current = this.#slot(userId)?.generation ?? 0;
    if (String(current) !== generation) return;
    const now = Date.now();
    this.#set(userId, { generation: current, entry, entryExpiresAt: now + this.#ttlMs, keepUntil: now + this.#ttlMs + GENERATION_GRACE_MS });
  }

  async invalidate(userId: string): Promise<void> {
    const current = this.#slot(userId)?.generation ?? 0;
    const now = Date.now();
    this.#set(userId, { generation: current + 1, entry: undefined, entryExpiresAt: now, keepUntil: now + this.#ttlMs + GENERATION_GRACE_MS });
  }

  #slot(userId: string): Slot | undefined {
    const slot = this.#slots.get(userId);
    if (!slot) return undefined;
    const now = Date.now();
    if (slot.keepUntil <= now) {
      this.#slots.delete(userId);
      return undefined;
    }
    if (slot.entry && slot.entryExpiresAt <= now) slot.entry = undefined;
    return slot;
  }

  #set(userId: string, slot: Slot): void {
    // Re-inserted, so the Map's order is least recently written first.
    this.#slots.delete(userId);
    this.#slots.set(userId, slot);
    while (this.#slots.size > this.#maxEntries) {
      const oldest = this.#slots.keys().next().value as string;
      this.#slots.delete(oldest);
    }
  }
}
