/**
 * A map from strings to numbers whose entries all live for the same TTL, for stores that keep one
 * entry per event for days (the webhook store's done marks and newest times).
 *
 * With one TTL for every entry, entries expire in the order they were written, so the map keeps
 * them in a log (parallel arrays, oldest first) and an index from key to log position; expiring is
 * popping from the front of the log. Unlike {@link ExpiringMap}, an entry is no object of its own:
 * its time and value are unboxed doubles in two arrays, and a lookup allocates nothing. That
 * matters when ~100,000 entries are live: each object per entry is one more thing every garbage
 * collection copies or marks (bench scenario 5 holds one entry per delivery for 12 days).
 *
 * A read never returns an expired entry, whatever the clock did. The memory bound (the entries
 * written in the last TTL) assumes a clock that does not run backwards; if it does, expired
 * entries behind a live one wait for it to expire.
 */
export class FixedTtlMap {
  readonly #ttlMs: number;
  readonly #now: () => number;
  /** Key -> sequence number of its latest write (its log position is that minus #base). */
  readonly #index = new Map<string, number>();
  /** The log: one slot per write, oldest first (a deleted entry's slot holds undefined). */
  #keys: (string | undefined)[] = [];
  #expiresAt: number[] = [];
  #values: number[] = [];
  /** Sequence number of log slot 0, and the first slot not yet expired. */
  #base = 0;
  #head = 0;

  constructor(ttlMs: number, options: { now?: () => number } = {}) {
    this.#ttlMs = ttlMs;
    this.#now = options.now ?? Date.now;
  }

  /** The value, unless absent or expired. */
  get(key: string): number | undefined {
    const seq = this.#index.get(key);
    if (seq === undefined) return undefined;
    const slot = seq - this.#base;
    if (this.#expiresAt[slot]! <= this.#now()) {
      this.#drop(key, slot);
      return undefined;
    }
    return this.#values[slot];
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  /** Writes `value` under `key` for the TTL from now, replacing (and renewing) any entry. */
  set(key: string, value: number): void {
    const now = this.#now();
    // A rewritten key's old slot stays in the log until it expires (it expires first, with one
    // TTL), and is then skipped because the index points past it: no lookup of it here.
    this.#index.set(key, this.#base + this.#keys.length);
    this.#keys.push(key);
    this.#expiresAt.push(now + this.#ttlMs);
    this.#values.push(value);
    this.#expireFront(now);
  }

  delete(key: string): boolean {
    const seq = this.#index.get(key);
    if (seq === undefined) return false;
    this.#drop(key, seq - this.#base);
    return true;
  }

  /** Live entries, plus expired ones not yet read or reached by the front of the log. */
  get size(): number {
    return this.#index.size;
  }

  #drop(key: string, slot: number): void {
    this.#index.delete(key);
    this.#keys[slot] = undefined;
  }

  /** Pops expired slots off the front: O(1) amortised per write, nothing to do until the oldest expires. */
  #expireFront(now: number): void {
    const keys = this.#keys;
    let head = this.#head;
    while (head < keys.length && this.#expiresAt[head]! <= now) {
      const key = keys[head];
      if (key !== undefined) {
        if (this.#index.get(key) === this.#base + head) this.#index.delete(key);
        keys[head] = undefined;
      }
      head++;
    }
    this.#head = head;
    // Compacts once the expired front is most of the log: each slot is copied O(1) times.
    if (head > 1024 && head * 2 > keys.length) {
      this.#keys = keys.slice(head);
      this.#expiresAt = this.#expiresAt.slice(head);
      this.#values = this.#values.slice(head);
      this.#base += head;
      this.#head = 0;
    }
  }
}
