/**
 * The lost-reply memo of the Redis stores. A command whose reply was lost (timeout, dropped
 * connection) may have run all the same: ioredis re-sends a command after a reconnect, and a
 * claim or lock made with a random token would then be found by its own author and taken for
 * someone else's. So the token of an attempt of unknown outcome is kept, per key, and the next
 * attempt for that key reuses it once, recognising such a claim as its own instead of waiting for
 * it to expire. Bounded during a long outage (oldest first).
 */
export class UncertainTokens {
  readonly #entries = new Map<string, { token: string; expiresAt: number }>();
  readonly #max: number;

  constructor(max = 1000) {
    this.#max = max;
  }

  /** The remembered token of `key`, if still within its TTL; taken out at once, so of concurrent callers only one reuses it. */
  take(key: string): string | undefined {
    const entry = this.#entries.get(key);
    this.#entries.delete(key);
    return entry && entry.expiresAt > Date.now() ? entry.token : undefined;
  }

  /** Remembers `token` for `ttlMs`: after that, a claim that did land has expired and a fresh token is as good. */
  remember(key: string, token: string, ttlMs: number): void {
    const now = Date.now();
    // A Map iterates in insertion order: the oldest entries are first.
    for (const [id, entry] of this.#entries) {
      if (entry.expiresAt > now && this.#entries.size < this.#max) break;
      this.#entries.delete(id);
    }
    this.#entries.set(key, { token, expiresAt: now + ttlMs });
  }

  get size(): number {
    return this.#entries.size;
  }
}
