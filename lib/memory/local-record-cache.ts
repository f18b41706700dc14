/**
 * A per-process copy of records read from a shared store (token records, KYC entries), valid only
 * while the process is sure to hear about every change: entries are dropped on a change
 * notification for their key, on this process's own writes, after `ttlMs` whatever happens, and
 * all at once whenever the notification connection is not known to be subscribed (a message lost
 * while reconnecting cannot leave a stale entry behind).
 *
 * A read that raced with a change is never cached: each key has a generation, bumped by every
 * invalidation, and a result is kept only if the generation it started under is still current.
 * (The change notification travels on another connection than the read, so it may be handled
 * before or after the read's answer; either order ends with no stale entry.)
 */
export class LocalRecordCache<T> {
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #entries = new Map<string, { value: T; expiresAt: number }>();
  /** Generations of keys invalidated since the cache was last cleared; absent means `#epoch`. */
  readonly #generations = new Map<string, number>();
  /** Every invalidation and every clear takes a new number, so a generation is never seen twice. */
  #counter = 0;
  #epoch = 0;
  #live = false;

  constructor(options: { ttlMs: number; maxEntries: number }) {
    this.#ttlMs = options.ttlMs;
    this.#maxEntries = options.maxEntries;
  }

  /** True while change notifications are known to arrive; only then are results kept. */
  get live(): boolean {
    return this.#live;
  }

  /** The notification subscription is confirmed (subscribed after the last reconnect). */
  setLive(): void {
    this.#live = true;
  }

  /** The notification connection dropped or is reconnecting: forget everything, keep nothing new. */
  setDown(): void {
    this.#live = false;
    this.clear();
  }

  get(key: string): T | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  /** Call before reading from the backend; pass the result to {@link keep}. */
  generation(key: string): number {
    return this.#generations.get(key) ?? this.#epoch;
  }

  /** Keeps a read result unless the key changed (or the cache was cleared) since `generation`. */
  keep(key: string, generation: number, value: T): void {
    if (!this.#live || this.generation(key) !== generation) return;
    if (this.#entries.size >= this.#maxEntries && !this.#entries.has(key)) {
      // Oldest inserted first: a Map iterates in insertion order.
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, { value, expiresAt: Date.now() + this.#ttlMs });
  }

  /** The key changed (a notification, or a write of ours). */
  invalidate(key: string): void {
    this.#entries.delete(key);
    this.#generations.set(key, ++this.#counter);
    // Generations only matter for reads in flight; bound the map on a busy process.
    if (this.#generations.size > this.#maxEntries * 2) this.clear();
  }

  clear(): void {
    this.#entries.clear();
    this.#generations.clear();
    this.#epoch = ++this.#counter;
  }

  get size(): number {
    return this.#entries.size;
  }
}
