import { Generations } from './generations';

/**
 * Hex SHA-256 digests remembered for one TTL, in flat typed arrays: the webhook store's done
 * marks, one per delivery, kept for days.
 *
 * Why not a Map of strings: with ~100,000 live entries, a lookup of a new key walks a chain of
 * entries and reads each entry's key string, wherever the heap put it; a cache miss each. Here a
 * key is its 32 bytes, inline in its slot next to its expiry, and slots are probed in a row, so a
 * lookup touches one or two cache lines. The first key word is uniform (a digest): it is the hash.
 *
 * Expiry: a lookup never finds an entry older than the TTL; memory is bounded by two generations
 * of tables (see Generations).
 */
export class HexDigestSet {
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #tables: Generations<Table>;
  /** The key being looked up, decoded. */
  readonly #words = new Uint32Array(8);

  constructor(ttlMs: number, options: { now?: () => number } = {}) {
    this.#ttlMs = ttlMs;
    this.#now = options.now ?? Date.now;
    this.#tables = new Generations(ttlMs, this.#now(), () => new Table(256));
  }

  /**
   * Whether `key` was added less than a TTL ago; `undefined` when `key` is not 64 lowercase hex
   * digits, the only keys this set holds.
   */
  has(key: string): boolean | undefined {
    if (!decodeHex(key, this.#words)) return undefined;
    const now = this.#now();
    return this.#tables.current(now).has(this.#words, now) || (this.#tables.previous?.has(this.#words, now) ?? false);
  }

  /** Adds `key` (or renews it) for the TTL from now; false, adding nothing, when `key` is not 64 lowercase hex digits. */
  add(key: string): boolean {
    if (!decodeHex(key, this.#words)) return false;
    const now = this.#now();
    this.#tables.writable(now).add(this.#words, now + this.#ttlMs);
    return true;
  }

  /** Entries held, expired ones included until their generation is dropped or its table rebuilt. */
  get size(): number {
    return this.#tables.size;
  }
}

const HEX = new Int8Array(128).fill(-1);
for (let i = 0; i < 16; i++) HEX['0123456789abcdef'.charCodeAt(i)] = i;

/** Decodes 64 lowercase hex digits into 8 words; false for anything else. */
function decodeHex(key: string, words: Uint32Array): boolean {
  if (key.length !== 64) return false;
  for (let w = 0; w < 8; w++) {
    let word = 0;
    for (let i = w * 8, end = i + 8; i < end; i++) {
      const code = key.charCodeAt(i);
      const digit = code < 128 ? HEX[code]! : -1;
      if (digit < 0) return false;
      word = (word << 4) | digit;
    }
    words[w] = word;
  }
  return true;
}

/**
 * Open addressing with linear probing. A slot is 40 bytes in one buffer: the 8 key words, then
 * the expiry as a double (at byte 32); an empty slot's expiry is NaN. Small slots matter: at
 * 100,000 entries the table is tens of megabytes, and every lookup is a random access into it.
 */
const SLOT_WORDS = 10;
const SLOT_DOUBLES = 5;
const EXPIRES = 4;

class Table {
  readonly capacity: number;
  readonly #words: Uint32Array;
  readonly #doubles: Float64Array;
  count = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
    const buffer = new ArrayBuffer(capacity * SLOT_WORDS * 4);
    this.#words = new Uint32Array(buffer);
    this.#doubles = new Float64Array(buffer).fill(Number.NaN);
  }

  has(key: Uint32Array, now: number): boolean {
    // NaN (empty) > now is false.
    return this.#doubles[this.#find(key) * SLOT_DOUBLES + EXPIRES]! > now;
  }

  /** The caller leaves room (see Generations.writable). */
  add(key: Uint32Array, expiresAt: number): void {
    const slot = this.#find(key);
    const at = slot * SLOT_DOUBLES + EXPIRES;
    if (Number.isNaN(this.#doubles[at]!)) {
      this.#words.set(key, slot * SLOT_WORDS);
      this.count++;
    }
    this.#doubles[at] = expiresAt;
  }

  /**
   * The live entries (expired ones are left behind) in a table at most a third full, so the next
   * rebuild (at half full) is at least a sixth of its slots away: O(1) amortised per add.
   */
  rebuilt(now: number): Table {
    let live = 0;
    for (let slot = 0; slot < this.capacity; slot++) if (this.#doubles[slot * SLOT_DOUBLES + EXPIRES]! > now) live++;
    let capacity = this.capacity;
    while ((live + 1) * 3 > capacity) capacity *= 2;
    const next = new Table(capacity);
    for (let slot = 0; slot < this.capacity; slot++) {
      const expiresAt = this.#doubles[slot * SLOT_DOUBLES + EXPIRES]!;
      if (expiresAt > now) next.add(this.#words.subarray(slot * SLOT_WORDS, slot * SLOT_WORDS + 8), expiresAt);
    }
    return next;
  }

  /** The slot holding `key`, or the empty slot where it would go. */
  #find(key: Uint32Array): number {
    const words = this.#words;
    const doubles = this.#doubles;
    const mask = this.capacity - 1;
    const k0 = key[0]!;
    let slot = k0 & mask;
    for (;;) {
      if (Number.isNaN(doubles[slot * SLOT_DOUBLES + EXPIRES]!)) return slot;
      const at = slot * SLOT_WORDS;
      if (
        words[at] === k0 && words[at + 1] === key[1] && words[at + 2] === key[2] && words[at + 3] === key[3] &&
        words[at + 4] === key[4] && words[at + 5] === key[5] && words[at + 6] === key[6] && words[at + 7] === key[7]
      ) {
        return slot;
      }
      slot = (slot + 1) & mask;
    }
  }
}
