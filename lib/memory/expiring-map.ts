/**
 * A Map whose entries expire, as Redis keys do: an expired entry is never returned (lazy expiry on
 * read), and a sweep now and then drops the ones nobody reads again, so memory stays bounded by
 * the entries of the last TTL. No timer: nothing keeps the process alive. Used by the memory
 * token store (token records, locks and backoffs; app tokens through it). The webhook store,
 * which keeps an entry per delivery for days, uses HexDigestSet and StringKeyTable instead.
 */
const SWEEP_STEP = 2;

export class ExpiringMap<V> {
  readonly #entries = new Map<string, { value: V; expiresAt: number }>();
  readonly #now: () => number;
  /**
   * Where the incremental sweep stands: a live iterator over the entries, which (per the Map
   * iteration rules) also reaches entries added after it was made. Every write advances it by
   * {@link SWEEP_STEP} entries, so each entry is looked at once per `size / SWEEP_STEP` writes and
   * a write costs O(1): a full pass every N writes cost O(size) each time, about 2 µs per webhook
   * delivery once a 12-day done mark per delivery had piled up (bench scenario 5).
   */
  #cursor: Iterator<[string, { value: V; expiresAt: number }]> | undefined;

  /** `now` is the clock (for tests; default `Date.now`). */
  constructor(options: { now?: () => number } = {}) {
    this.#now = options.now ?? Date.now;
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
    const now = this.#now();
    this.#entries.set(key, { value, expiresAt: now + ttlMs });
    this.#sweepSome(now);
  }

  delete(key: string): boolean {
    return this.#entries.delete(key);
  }

  /**
   * Two entries per write: more than one, so the sweep outpaces the writes (each write adds at most
   * one entry) and the map stays bounded by the entries of the last TTL, give or take one pass.
   */
  #sweepSome(now: number): void {
    for (let step = 0; step < SWEEP_STEP; step++) {
      this.#cursor ??= this.#entries.entries();
      const next = this.#cursor.next();
      if (next.done) {
        this.#cursor = undefined;
        return;
      }
      const [key, entry] = next.value;
      if (entry.expiresAt <= now) this.#entries.delete(key);
    }
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
