import { randomBytes } from 'node:crypto';
import type { TokenStore } from '../../lib/tokens';

export interface StoreUnderTest {
  store: TokenStore;
  /** Called once after the suite. */
  cleanup(): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const user = () => `user-${randomBytes(4).toString('hex')}`;
const LONG = 60_000;

async function elapsed(run: () => Promise<unknown>): Promise<number> {
  const start = Date.now();
  await run();
  return Date.now() - start;
}

/**
 * The behaviour every TokenStore must have, written once and run against MemoryTokenStore,
 * RedisTokenStore on a single Redis, and RedisTokenStore on a Redis Cluster.
 */
export function describeTokenStoreContract(name: string, create: () => Promise<StoreUnderTest>): void {
  describe(`${name} (TokenStore contract)`, () => {
    let subject: StoreUnderTest;
    let store: TokenStore;
    beforeAll(async () => {
      subject = await create();
      store = subject.store;
    });
    afterAll(async () => {
      await store.close?.();
      await subject.cleanup();
    });

    test('an unknown user has no record', async () => {
      expect(await store.get(user())).toBeNull();
    });

    test('set stores the data and every write increases the version', async () => {
      const id = user();
      const v1 = await store.set(id, 'first', LONG);
      const v2 = await store.set(id, 'second', LONG);
      expect(v2).toBeGreaterThan(v1);
      expect(await store.get(id)).toEqual({ version: v2, data: 'second' });
    });

    test('records of different users are independent', async () => {
      const [a, b] = [user(), user()];
      await store.set(a, 'a-data', LONG);
      await store.set(b, 'b-data', LONG);
      await store.delete(a);
      expect(await store.get(a)).toBeNull();
      expect((await store.get(b))?.data).toBe('b-data');
    });

    test('compareAndSet writes when the version matches and the caller holds the lock', async () => {
      const id = user();
      const v1 = await store.set(id, 'old', LONG);
      const lock = await store.acquireLock(id, LONG);
      expect(lock).not.toBeNull();
      const v2 = await store.compareAndSet(id, v1, 'new', LONG, lock as string);
      expect(v2).toBeGreaterThan(v1);
      expect(await store.get(id)).toEqual({ version: v2, data: 'new' });
      await store.releaseLock(id, lock as string);
    });

    test('compareAndSet is refused for a stale version (someone wrote in between)', async () => {
      const id = user();
      const v1 = await store.set(id, 'old', LONG);
      const v2 = await store.set(id, 'newer', LONG);
      const lock = (await store.acquireLock(id, LONG)) as string;
      expect(await store.compareAndSet(id, v1, 'stale-writer', LONG, lock)).toBeNull();
      expect(await store.get(id)).toEqual({ version: v2, data: 'newer' });
      await store.releaseLock(id, lock);
    });

    test('compareAndSet is refused without the lock, with another owner’s lock, or after the lock expired', async () => {
      const id = user();
      const v1 = await store.set(id, 'old', LONG);
      expect(await store.compareAndSet(id, v1, 'no-lock', LONG, 'forged-token')).toBeNull();
      const short = (await store.acquireLock(id, 100)) as string;
      await sleep(250);
      const other = (await store.acquireLock(id, LONG)) as string;
      expect(other).not.toBeNull();
      // The stalled holder (expired lock) cannot overwrite anything, even with the right version.
      expect(await store.compareAndSet(id, v1, 'stalled-holder', LONG, short)).toBeNull();
      expect((await store.get(id))?.data).toBe('old');
      await store.releaseLock(id, other);
    });

    test('compareAndSet never resurrects a deleted record', async () => {
      const id = user();
      const v1 = await store.set(id, 'old', LONG);
      const lock = (await store.acquireLock(id, LONG)) as string;
      await store.delete(id);
      expect(await store.compareAndSet(id, v1, 'late-refresh', LONG, lock)).toBeNull();
      expect(await store.get(id)).toBeNull();
      await store.releaseLock(id, lock);
    });

    test('versions keep increasing across delete and a new sign-in (no ABA for a late refresher)', async () => {
      const id = user();
      const v1 = await store.set(id, 'first-grant', LONG);
      const lock = (await store.acquireLock(id, LONG)) as string;
      await store.delete(id);
      const v2 = await store.set(id, 'second-grant', LONG);
      expect(v2).toBeGreaterThan(v1);
      expect(await store.compareAndSet(id, v1, 'refreshed-first-grant', LONG, lock)).toBeNull();
      expect((await store.get(id))?.data).toBe('second-grant');
      await store.releaseLock(id, lock);
    });

    test('delete with an expected version only deletes that version', async () => {
      const id = user();
      const v1 = await store.set(id, 'a', LONG);
      const v2 = await store.set(id, 'b', LONG);
      expect(await store.delete(id, v1)).toBe(false);
      expect((await store.get(id))?.data).toBe('b');
      expect(await store.delete(id, v2)).toBe(true);
      expect(await store.get(id)).toBeNull();
      expect(await store.delete(id)).toBe(false);
    });

    test('the lock is exclusive, released only by its owner, and expires', async () => {
      const id = user();
      // Long enough to outlive the next round trips on a loaded machine; released explicitly below.
      const first = await store.acquireLock(id, LONG);
      expect(typeof first).toBe('string');
      expect(await store.acquireLock(id, 200)).toBeNull();
      expect(await store.releaseLock(id, 'not-the-owner')).toBe(false);
      expect(await store.acquireLock(id, 200)).toBeNull();
      expect(await store.releaseLock(id, first as string)).toBe(true);
      const second = await store.acquireLock(id, 150);
      expect(second).not.toBeNull();
      await sleep(300);
      const third = await store.acquireLock(id, LONG);
      expect(third).not.toBeNull();
      expect(await store.releaseLock(id, second as string)).toBe(false);
      expect(await store.releaseLock(id, third as string)).toBe(true);
    });

    test('a record disappears after its TTL, and each write renews the TTL', async () => {
      const id = user();
      await store.set(id, 'short', 600);
      await sleep(350);
      await store.set(id, 'renewed', 600);
      await sleep(350);
      expect((await store.get(id))?.data).toBe('renewed');
      await sleep(400);
      expect(await store.get(id)).toBeNull();
    });

    test('waitForChange wakes up as soon as another writer stores a new version', async () => {
      const id = user();
      const v1 = await store.set(id, 'old', LONG);
      const lock = (await store.acquireLock(id, LONG)) as string;
      const waited = elapsed(() => store.waitForChange(id, v1, 5000));
      await sleep(100);
      await store.compareAndSet(id, v1, 'new', LONG, lock);
      expect(await waited).toBeLessThan(700);
      await store.releaseLock(id, lock);
    });

    test('waitForChange wakes up when the lock holder releases without writing', async () => {
      const id = user();
      const v1 = await store.set(id, 'old', LONG);
      const lock = (await store.acquireLock(id, LONG)) as string;
      const waited = elapsed(() => store.waitForChange(id, v1, 5000));
      await sleep(100);
      await store.releaseLock(id, lock);
      expect(await waited).toBeLessThan(700);
    });

    test('waitForChange returns at once when the version already differs or nobody holds the lock', async () => {
      const id = user();
      const v1 = await store.set(id, 'old', LONG);
      expect(await elapsed(() => store.waitForChange(id, v1, 5000))).toBeLessThan(1000);
      const lock = (await store.acquireLock(id, LONG)) as string;
      expect(await elapsed(() => store.waitForChange(id, v1 - 1, 5000))).toBeLessThan(1000);
      await store.releaseLock(id, lock);
    });

    test('waitForChange gives up after its timeout when nothing happens', async () => {
      const id = user();
      const v1 = await store.set(id, 'old', LONG);
      const lock = (await store.acquireLock(id, LONG)) as string;
      const time = await elapsed(() => store.waitForChange(id, v1, 300));
      expect(time).toBeGreaterThanOrEqual(280);
      expect(time).toBeLessThan(2000);
      await store.releaseLock(id, lock);
    });

    test('waitForChange notices a lock that expires without a release (a crashed holder)', async () => {
      const id = user();
      const v1 = await store.set(id, 'old', LONG);
      await store.acquireLock(id, 300);
      const time = await elapsed(() => store.waitForChange(id, v1, 5000));
      expect(time).toBeLessThan(2000);
      expect(await store.acquireLock(id, LONG)).not.toBeNull();
    });

    describe('refresh backoff', () => {
      const policy = { baseMs: 1000, maxMs: 4000 };
      const noteFailure = (id: string, p = policy) => required(store.noteRefreshFailure).call(store, id, p);
      const backoffMs = (id: string) => required(store.refreshBackoffMs).call(store, id);

      test('a user without failures has no backoff', async () => {
        expect(await backoffMs(user())).toBe(0);
      });

      test('each failure doubles the backoff, up to maxMs, per user', async () => {
        const [id, other] = [user(), user()];
        const delays = [];
        for (let i = 0; i < 5; i++) delays.push(await noteFailure(id));
        expect(delays).toEqual([1000, 2000, 4000, 4000, 4000]);
        const left = await backoffMs(id);
        expect(left).toBeGreaterThan(3000);
        expect(left).toBeLessThanOrEqual(4000);
        expect(await backoffMs(other)).toBe(0);
      });

      test('the backoff ends on its own', async () => {
        const id = user();
        await noteFailure(id, { baseMs: 150, maxMs: 150 });
        expect(await backoffMs(id)).toBeGreaterThan(0);
        await sleep(250);
        expect(await backoffMs(id)).toBe(0);
      });

      test('a successful set or compareAndSet forgets the failures', async () => {
        const [signedIn, refreshed] = [user(), user()];
        await noteFailure(signedIn);
        await noteFailure(signedIn);
        await store.set(signedIn, 'new grant', LONG);
        expect(await backoffMs(signedIn)).toBe(0);
        expect(await noteFailure(signedIn)).toBe(1000);

        const v1 = await store.set(refreshed, 'old', LONG);
        await noteFailure(refreshed);
        await noteFailure(refreshed);
        const lock = await store.acquireLock(refreshed, LONG);
        expect(await store.compareAndSet(refreshed, v1, 'new', LONG, lock as string)).not.toBeNull();
        expect(await backoffMs(refreshed)).toBe(0);
        expect(await noteFailure(refreshed)).toBe(1000);
      });

      test('a refused compareAndSet keeps the failures', async () => {
        const id = user();
        const v1 = await store.set(id, 'old', LONG);
        await noteFailure(id);
        expect(await store.compareAndSet(id, v1, 'new', LONG, 'not-the-lock')).toBeNull();
        expect(await backoffMs(id)).toBeGreaterThan(0);
        expect(await noteFailure(id)).toBe(2000);
      });
    });
  });
}

/** The backoff methods are optional in the interface; every built-in store must have them. */
function required<T>(method: T | undefined): T {
  if (method === undefined) throw new Error('this store does not implement the refresh backoff');
  return method;
}
