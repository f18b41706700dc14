/** What {@link Generations} needs of a table. */
export interface GenerationTable<T> {
  readonly count: number;
  readonly capacity: number;
  /** The live entries in a new table at most a third full. */
  rebuilt(now: number): T;
}

/**
 * The current and the previous generation of a table whose entries all live for one TTL
 * (HexDigestSet, StringKeyTable). Entries go to the current one; when it is a TTL old it becomes
 * the previous one, and the one before is dropped whole. That is safe: every entry of the current
 * generation was written before #rotatesAt, so it expires before #rotatesAt + TTL, which is no
 * later than the next rotation. Reads stay exact: each entry keeps its own expiry.
 */
export class Generations<T extends GenerationTable<T>> {
  readonly #ttlMs: number;
  readonly #make: () => T;
  #current: T;
  #previous: T | undefined;
  #rotatesAt: number;

  constructor(ttlMs: number, now: number, make: () => T) {
    this.#ttlMs = ttlMs;
    this.#make = make;
    this.#current = make();
    this.#rotatesAt = now + ttlMs;
  }

  /** The table to read first at `now` (rotating first when due). */
  current(now: number): T {
    if (now >= this.#rotatesAt) {
      this.#previous = this.#current;
      this.#current = this.#make();
      this.#rotatesAt = now + this.#ttlMs;
    }
    return this.#current;
  }

  /** The table to read second; call {@link current} first. */
  get previous(): T | undefined {
    return this.#previous;
  }

  /** The current table with room for one more entry: rebuilt once half full, so probes stay short. */
  writable(now: number): T {
    const table = this.current(now);
    if ((table.count + 1) * 2 <= table.capacity) return table;
    this.#current = table.rebuilt(now);
    return this.#current;
  }

  /** Entries held, expired ones included until their generation is dropped or its table rebuilt. */
  get size(): number {
    return this.#current.count + (this.#previous?.count ?? 0);
  }
}
