import { Generations } from './generations';

/**
 * Numbers keyed by strings, remembered for one TTL, for keys that are not digests (the webhook
 * store's newest time per user and level). The same layout as {@link HexDigestSet}: each key's
 * 64-bit hash, expiry and value inline in a flat buffer, probed in a row, so looking up a new key
 * touches one or two cache lines instead of a Map's chain of entries and their key strings. Keys
 * are kept (in an array beside the buffer) only to tell apart two keys whose hashes collide:
 * a lookup compares a key string only when both hashes match.
 *
 * Expiry as in HexDigestSet: exact on every read, memory bounded by two generations (Generations).
 */
export class StringKeyTable {
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #tables: Generations<Table>;

  constructor(ttlMs: number, options: { now?: () => number } = {}) {
    this.#ttlMs = ttlMs;
    this.#now = options.now ?? Date.now;
    this.#tables = new Generations(ttlMs, this.#now(), () => new Table(256));
  }

  /** The value, unless absent or older than the TTL. */
  get(key: string): number | undefined {
    const now = this.#now();
    const h1 = hash1(key);
    const h2 = hash2(key);
    return this.#tables.current(now).get(key, h1, h2, now) ?? this.#tables.previous?.get(key, h1, h2, now);
  }

  /** Writes `value` under `key` for the TTL from now, replacing (and renewing) any entry. */
  set(key: string, value: number): void {
    const now = this.#now();
    this.#tables.writable(now).set(key, hash1(key), hash2(key), now + this.#ttlMs, value);
  }

  /**
   * Keeps the larger of the live value under `key` and `value`, renewed for the TTL, and returns
   * it: a read and a write with the key hashed once (the webhook store's newest time per user).
   */
  keepMax(key: string, value: number): number {
    const now = this.#now();
    const h1 = hash1(key);
    const h2 = hash2(key);
    const table = this.#tables.writable(now);
    const current = table.get(key, h1, h2, now) ?? this.#tables.previous?.get(key, h1, h2, now);
    const kept = current === undefined ? value : Math.max(current, value);
    table.set(key, h1, h2, now + this.#ttlMs, kept);
    return kept;
  }

  /** Entries held, expired ones included until their generation is dropped or its table rebuilt. */
  get size(): number {
    return this.#tables.size;
  }
}

/** FNV-1a over UTF-16 code units, then mixed so that keys differing in their last characters spread over the slots. */
function hash1(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return mix(h);
}

/** A second hash with other constants: with hash1, 64 bits compared before the key string is. */
function hash2(key: string): number {
  let h = 0x9e3779b9 ^ key.length;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x5bd1e995);
  return mix(h);
}

/** MurmurHash3's 32-bit finaliser: every input bit reaches every output bit. */
function mix(value: number): number {
  let h = value ^ (value >>> 16);
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** A slot is 24 bytes: hash1, hash2 (u32), then expiry and value (f64); an empty slot's expiry is NaN. */
const SLOT_WORDS = 6;
const SLOT_DOUBLES = 3;
const EXPIRES = 1;
const VALUE = 2;

class Table {
  readonly capacity: number;
  readonly #words: Uint32Array;
  readonly #doubles: Float64Array;
  readonly #keys: (string | undefined)[];
  count = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
    const buffer = new ArrayBuffer(capacity * SLOT_WORDS * 4);
    this.#words = new Uint32Array(buffer);
    this.#doubles = new Float64Array(buffer);
    for (let slot = 0; slot < capacity; slot++) this.#doubles[slot * SLOT_DOUBLES + EXPIRES] = Number.NaN;
    this.#keys = new Array<string | undefined>(capacity).fill(undefined);
  }

  get(key: string, h1: number, h2: number, now: number): number | undefined {
    const slot = this.#find(key, h1, h2);
    // NaN (empty) > now is false.
    if (!(this.#doubles[slot * SLOT_DOUBLES + EXPIRES]! > now)) return undefined;
    return this.#doubles[slot * SLOT_DOUBLES + VALUE];
  }

  /** The caller leaves room (see Generations.writable). */
  set(key: string, h1: number, h2: number, expiresAt: number, value: number): void {
    const slot = this.#find(key, h1, h2);
    const at = slot * SLOT_DOUBLES;
    if (Number.isNaN(this.#doubles[at + EXPIRES]!)) {
      this.#words[slot * SLOT_WORDS] = h1;
      this.#words[slot * SLOT_WORDS + 1] = h2;
      this.#keys[slot] = key;
      this.count++;
    }
    this.#doubles[at + EXPIRES] = expiresAt;
    this.#doubles[at + VALUE] = value;
  }

  /**
   * The live entries (expired ones are left behind) in a table at most a third full, so the next
   * rebuild (at half full) is at least a sixth of its slots away: O(1) amortised per write.
   */
  rebuilt(now: number): Table {
    let live = 0;
    for (let slot = 0; slot < this.capacity; slot++) if (this.#doubles[slot * SLOT_DOUBLES + EXPIRES]! > now) live++;
    let capacity = this.capacity;
    while ((live + 1) * 3 > capacity) capacity *= 2;
    const next = new Table(capacity);
    for (let slot = 0; slot < this.capacity; slot++) {
      const at = slot * SLOT_DOUBLES;
      if (!(this.#doubles[at + EXPIRES]! > now)) continue;
      next.set(this.#keys[slot]!, this.#words[slot * SLOT_WORDS]!, this.#words[slot * SLOT_WORDS + 1]!, this.#doubles[at + EXPIRES]!, this.#doubles[at + VALUE]!);
    }
    return next;
  }

  /** The slot holding `key`, or the empty slot where it would go. */
  #find(key: string, h1: number, h2: number): number {
    const words = this.#words;
    const doubles = this.#doubles;
    const mask = this.capacity - 1;
    let slot = h1 & mask;
    for (;;) {
      if (Number.isNaN(doubles[slot * SLOT_DOUBLES + EXPIRES]!)) return slot;
      const at = slot * SLOT_WORDS;
      if (words[at] === h1 && words[at + 1] === h2 && this.#keys[slot] === key) return slot;
      slot = (slot + 1) & mask;
    }
  }
}
