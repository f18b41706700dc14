import { StringKeyTable } from '../lib/memory';

// The webhook store keeps a newest time per user and level here for days: a read must never see an
// expired entry or another key's value, a renewed entry must outlive its first write, and the
// table must stay bounded by what was written in the last two TTLs.
describe('StringKeyTable', () => {
  it('returns a value until exactly the TTL has passed', () => {
    let now = 1_000;
    const table = new StringKeyTable(10, { now: () => now });
    table.set('a', 7);
    now += 9;
    expect(table.get('a')).toBe(7);
    now += 1;
    expect(table.get('a')).toBeUndefined();
  });

  it('renews an entry written again, and keeps the last value', () => {
    let now = 0;
    const table = new StringKeyTable(10, { now: () => now });
    table.set('a', 1);
    now = 5;
    table.set('a', 2);
    now = 14;
    expect(table.get('a')).toBe(2);
    now = 15;
    expect(table.get('a')).toBeUndefined();
  });

  it("gives every key its own value, across growth and generations, and no value to keys it was not given", () => {
    let now = 0;
    const table = new StringKeyTable(1_000_000, { now: () => now });
    // Keys that differ only in their last characters, as ordering keys of consecutive users do.
    const key = (i: number) => JSON.stringify(['verification', `user-${String(i).padStart(10, '0')}`, 'basic']);
    for (let i = 0; i < 50_000; i++) {
      now = i * 30; // 1.5 TTLs in all: the first entries move to the previous generation
      table.set(key(i), i);
    }
    now = 1_400_000;
    const wrong: number[] = [];
    for (let i = 0; i < 50_000; i++) {
      const expected = i * 30 > 400_000 ? i : undefined;
      if (table.get(key(i)) !== expected) wrong.push(i);
    }
    expect(wrong).toEqual([]);
    expect(table.get(key(50_000))).toBeUndefined();
    expect(table.get('')).toBeUndefined();
  });

  it('keeps a renewed key through every rebuild of its table', () => {
    let now = 0;
    const table = new StringKeyTable(100, { now: () => now });
    table.set('kept', -1);
    for (let i = 0; i < 10_000; i++) {
      now = i / 10;
      table.set(`k${i}`, i);
      if (i % 500 === 0) table.set('kept', i);
    }
    expect(table.get('kept')).toBe(9_500);
    // The last write was at 999.9 ms: k9000 (900 ms) lives until 1,000 ms, k8999 (899.9 ms) is gone.
    expect(table.get('k9000')).toBe(9_000);
    expect(table.get('k8999')).toBeUndefined();
  });

  it('stays bounded by the entries of the last two TTLs, with nobody reading', () => {
    let now = 0;
    const table = new StringKeyTable(50, { now: () => now });
    let largest = 0;
    // 100 writes per ms, each living 50 ms: 5,000 live entries at any time.
    for (let i = 0; i < 200_000; i++) {
      if (i % 100 === 0) now++;
      table.set(`k${i}`, i);
      largest = Math.max(largest, table.size);
    }
    expect(largest).toBeLessThanOrEqual(10_100);
    expect(table.get('k199999')).toBe(199_999);
    expect(table.get('k150000')).toBeUndefined();
  });

  it('never returns an expired entry when the clock goes backwards', () => {
    let now = 1_000;
    const table = new StringKeyTable(10, { now: () => now });
    table.set('early', 1);
    now = 500;
    table.set('late', 2);
    now = 1_010;
    expect(table.get('early')).toBeUndefined();
    expect(table.get('late')).toBeUndefined();
    now = 505;
    table.set('again', 3);
    expect(table.get('again')).toBe(3);
  });

  it('keepMax keeps the larger value, renews it, and sees a value kept in the previous generation', () => {
    let now = 0;
    const table = new StringKeyTable(100, { now: () => now });
    expect(table.keepMax('u', 5)).toBe(5);
    expect(table.keepMax('u', 3)).toBe(5);
    now = 90;
    expect(table.keepMax('u', 7)).toBe(7);
    // 150: the first generation rotated out at 100; the value written at 90 lives until 190.
    now = 150;
    expect(table.keepMax('u', 6)).toBe(7);
    expect(table.get('u')).toBe(7);
    now = 249;
    expect(table.get('u')).toBe(7);
    now = 250;
    expect(table.get('u')).toBeUndefined();
    expect(table.keepMax('u', 1)).toBe(1);
  });
});

