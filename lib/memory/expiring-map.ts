/**
 * A Map whose entries expire, as Redis keys do: an expired entry is never returned (lazy expiry on
 * read), and a sweep now and then drops the ones nobody reads again, so memory stays bounded by
 * the entries of the last TTL. No timer: nothing keeps the process alive. Used by every
 * in-memory store of the library (token records, locks and backoffs; webhook deliveries and
 * ordering; app tokens through the memory token store).
 */
export class ExpiringMap<V> {
  readonly #entries = new Map<string, { value: V; expiresAt: number }>();
  readonly #now: () => number;
  readonly #sweepEvery: number;
  #writes = 0;

  /** `now` is the clock (for tests; default `Date.now`); a sweep runs every `sweepEvery` writes. */
  constructor(options: { now?: () => number; sweepEvery?: number } = {}) {
    this.#now = options.now ?? Date.now;
    this.#sweepEvery = options.sweepEvery ?? 1000;
  }

  /** The value, unless absent or expired (then it is deleted). */
  get(key: string): V | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.#now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  /** Epoch ms at which the live entry of `key` expires, or `undefined`. */
  expiresAt(key: string): number | undefined {
    return this.get(key) === undefined ? undefined : this.#entries.get(key)?.expiresAt;
  }

  set(key: string, value: V, ttlMs: number): void {
    this.#entries.set(key, { value, expiresAt: this.#now() + ttlMs });
    if (++this.#writes % this.#sweepEvery === 0) this.sweep();
  }

  delete(key: string): boolean {
    return this.#entries.delete(key);
  }

  /** Drops every expired entry. */
  sweep(): void {
    const now = this.#now();
    for (const [key, entry] of this.#entries) if (entry.expiresAt <= now) this.#entries.delete(key);
  }

  /** Entries held, expired ones included until read or swept. */
  get size(): number {
    return this.#entries.size;
  }
}
