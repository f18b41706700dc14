import { createHash, randomBytes } from 'node:crypto';
import { HexDigestSet } from '../lib/memory';
import { MemoryWebhookStore } from '../lib/webhooks';

const digest = (text: string): string => createHash('sha256').update(text).digest('hex');

// The webhook store's done marks: a delivery handled once must be found again for the whole TTL
// (else a retry is handled twice), never after it, and never for a delivery that was not handled.
describe('HexDigestSet', () => {
  it('holds 64 lowercase hex digits only, and says so for anything else', () => {
    const set = new HexDigestSet(1_000);
    const id = digest('a');
    for (const other of ['', 'd1', id.toUpperCase(), `${id.slice(0, 63)}g`, `${id}0`, `${id.slice(0, 63)}é`]) {
      expect(set.has(other)).toBeUndefined();
      expect(set.add(other)).toBe(false);
    }
    expect(set.size).toBe(0);
    expect(set.has(id)).toBe(false);
    expect(set.add(id)).toBe(true);
    expect(set.has(id)).toBe(true);
  });

  it('finds a digest until exactly the TTL has passed', () => {
    let now = 5_000;
    const set = new HexDigestSet(100, { now: () => now });
    const id = digest('x');
    set.add(id);
    now += 99;
    expect(set.has(id)).toBe(true);
    now += 1;
    expect(set.has(id)).toBe(false);
  });

  it('finds every one of many digests and none it was not given, across growth and generations', () => {
    let now = 0;
    const set = new HexDigestSet(1_000_000, { now: () => now });
    const ids = Array.from({ length: 50_000 }, () => randomBytes(32).toString('hex'));
    ids.forEach((id, i) => {
      now = i * 30; // 1.5 TTLs in all: the first entries move to the previous generation
      set.add(id);
    });
    now = 1_400_000;
    // Added at or after 400,000 ms: still within their TTL, whichever generation holds them.
    const live = ids.filter((_, i) => i * 30 > 400_000);
    expect(live.every((id) => set.has(id))).toBe(true);
    expect(ids.filter((_, i) => i * 30 <= 400_000).some((id) => set.has(id))).toBe(false);
    expect(Array.from({ length: 1_000 }, () => randomBytes(32).toString('hex')).some((id) => set.has(id))).toBe(false);
  });

  it('renews a digest added again', () => {
    let now = 0;
    const set = new HexDigestSet(100, { now: () => now });
    const id = digest('renewed');
    set.add(id);
    now = 90;
    set.add(id);
    now = 150;
    expect(set.has(id)).toBe(true);
    now = 190;
    expect(set.has(id)).toBe(false);
  });

  it('stays bounded by what was added in the last two TTLs, with nobody reading', () => {
    let now = 0;
    const set = new HexDigestSet(50, { now: () => now });
    let largest = 0;
    // 100 adds per ms, each living 50 ms: 5,000 live at any time.
    for (let i = 0; i < 100_000; i++) {
      if (i % 100 === 0) now++;
      set.add(digest(String(i)));
      largest = Math.max(largest, set.size);
    }
    expect(largest).toBeLessThanOrEqual(10_100);
    expect(set.has(digest('99999'))).toBe(true);
    expect(set.has(digest('90000'))).toBe(false);
  });
});

describe('MemoryWebhookStore done marks', () => {
  it('remembers delivery ids of any form: hex digests and the ids a caller makes up', async () => {
    for (const id of [digest('body'), 'd1', digest('body').toUpperCase()]) {
      const store = new MemoryWebhookStore();
      const claim = await store.claim(id);
      if (claim.state !== 'claimed') throw new Error(`expected a claim, got ${claim.state}`);
      await store.complete(id, claim.token);
      await expect(store.claim(id)).resolves.toEqual({ state: 'done' });
      await expect(store.claim(`${id}-other`)).resolves.toMatchObject({ state: 'claimed' });
    }
  });

  it('forgets the claims of handlers that never finished, so they neither block retries nor pile up', async () => {
    let now = 0;
    const store = new MemoryWebhookStore({ now: () => now, processingTtlMs: 10 });
    const hung = await store.claim(digest('hung'));
    expect(hung.state).toBe('claimed');
    await expect(store.claim(digest('hung'))).resolves.toEqual({ state: 'processing' });
    now = 10;
    await expect(store.claim(digest('hung'))).resolves.toMatchObject({ state: 'claimed' });
    // 20,000 claims never completed, one per ms: about 10 are live at any time.
    let largest = 0;
    for (let i = 0; i < 20_000; i++) {
      now++;
      await store.claim(digest(`never ${i}`));
      largest = Math.max(largest, store.size);
    }
    expect(largest).toBeLessThanOrEqual(1_024);
  });
});
