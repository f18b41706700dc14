import { FixedTtlMap } from '../lib/memory';

// The webhook store keeps a done mark and a newest time per delivery in these maps for days: a read
// must never see an expired entry, a renewed entry must outlive its first write, and the map must
// stay bounded by what was written in the last TTL.
describe('FixedTtlMap', () => {
  it('returns a value until exactly the TTL has passed', () => {
    let now = 1_000;
    const map = new FixedTtlMap(10, { now: () => now });
    map.set('a', 7);
    now += 9;
    expect(map.get('a')).toBe(7);
    expect(map.has('a')).toBe(true);
    now += 1;
    expect(map.get('a')).toBeUndefined();
    expect(map.has('a')).toBe(false);
    expect(map.size).toBe(0);
  });

  it('renews an entry written again, and its first write expiring does not take it', () => {
    let now = 0;
    const map = new FixedTtlMap(10, { now: () => now });
    map.set('a', 1);
    now = 5;
    map.set('a', 2);
    now = 10;
    // The first write's slot expires here; writing another key pops it off the log.
    map.set('b', 3);
    expect(map.get('a')).toBe(2);
    now = 14;
    expect(map.get('a')).toBe(2);
    now = 15;
    expect(map.get('a')).toBeUndefined();
    expect(map.get('b')).toBe(3);
  });

  it('forgets a deleted entry, and a later write of the key starts a new one', () => {
    let now = 0;
    const map = new FixedTtlMap(10, { now: () => now });
    map.set('a', 1);
    expect(map.delete('a')).toBe(true);
    expect(map.delete('a')).toBe(false);
    expect(map.get('a')).toBeUndefined();
    now = 8;
    map.set('a', 2);
    now = 12;
    map.set('c', 0);
    expect(map.get('a')).toBe(2);
    expect(map.size).toBe(2);
  });

  it('stays bounded by the entries of the last TTL, with nobody reading', () => {
    let now = 0;
    const map = new FixedTtlMap(50, { now: () => now });
    let largest = 0;
    // 100 writes per ms, each living 50 ms: 5,000 live entries at any time.
    for (let i = 0; i < 200_000; i++) {
      if (i % 100 === 0) now++;
      map.set(`k${i}`, i);
      largest = Math.max(largest, map.size);
    }
    expect(largest).toBeLessThanOrEqual(5_100);
    expect(map.get('k199999')).toBe(199_999);
    expect(map.get('k150000')).toBeUndefined();
  });

  it('keeps values across the log being compacted, rewritten keys included', () => {
    let now = 0;
    const map = new FixedTtlMap(100, { now: () => now });
    map.set('kept', -1);
    for (let i = 0; i < 10_000; i++) {
      now = i / 10;
      map.set(`k${i}`, i);
      // Renewed every 50 ms: it must survive every compaction of the log.
      if (i % 500 === 0) map.set('kept', i);
    }
    expect(map.get('kept')).toBe(9_500);
    expect(map.get('k9999')).toBe(9_999);
    // The last write was at 999.9 ms: k9000 (900 ms) lives until 1,000 ms, k8999 (899.9 ms) is gone.
    expect(map.get('k9000')).toBe(9_000);
    expect(map.get('k8999')).toBeUndefined();
  });

  it('never returns an expired entry when the clock goes backwards', () => {
    let now = 1_000;
    const map = new FixedTtlMap(10, { now: () => now });
    map.set('early', 1);
    now = 500;
    map.set('late', 2);
    now = 1_010;
    expect(map.get('early')).toBeUndefined();
    expect(map.get('late')).toBeUndefined();
    now = 505;
    map.set('again', 3);
    expect(map.get('again')).toBe(3);
  });
});
