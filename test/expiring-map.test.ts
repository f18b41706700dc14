import { ExpiringMap } from '../lib/memory';

// The in-memory stores rely on this map to stay bounded without a timer: expired entries must go
// even when nobody reads them again, and a write must not cost a pass over the whole map.
describe('ExpiringMap', () => {
  it('never returns an expired entry', () => {
    let now = 1_000;
    const map = new ExpiringMap<string>({ now: () => now });
    map.set('a', 'x', 10);
    expect(map.get('a')).toBe('x');
    now += 10;
    expect(map.get('a')).toBeUndefined();
    expect(map.size).toBe(0);
  });

  it('drops unread expired entries as writes go on, so the size stays bounded by the live ones', () => {
    let now = 0;
    const map = new ExpiringMap<number>({ now: () => now });
    let largest = 0;
    // 100 writes per ms, each living 50 ms: about 5,000 live entries at any time.
    for (let i = 0; i < 200_000; i++) {
      if (i % 100 === 0) now++;
      map.set(`k${i}`, i, 50);
      largest = Math.max(largest, map.size);
    }
    // Each pass of the sweep takes size / 2 writes, so what it has not reached yet is at most
    // about twice the live set.
    expect(largest).toBeLessThan(15_000);
    expect(map.get('k199999')).toBe(199_999);
    expect(map.get('k0')).toBeUndefined();
  });

  it('keeps live entries when the sweep passes over them, also when re-set in place', () => {
    let now = 0;
    const map = new ExpiringMap<string>({ now: () => now });
    map.set('long', 'kept', 1_000_000);
    for (let i = 0; i < 10_000; i++) {
      now++;
      map.set('short', String(i), 1);
      map.set(`tmp${i}`, 'x', 5);
    }
    expect(map.get('long')).toBe('kept');
    expect(map.get('short')).toBe('9999');
    expect(map.size).toBeLessThan(100);
  });
});
