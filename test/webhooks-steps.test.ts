import { MemoryWebhookStore, WebhookErrorCode, type WebhookError, type WebhookStore } from '../lib/webhooks';
import { claimDelivery, completeDelivery, handleDelivery, releaseDelivery, type VerifiedDelivery } from '../lib/webhooks/steps';

// The receiver's steps on their own (lib/webhooks/steps.ts), against a real MemoryWebhookStore.

function delivery(id: string, ordering?: { key: string; timestampMs: number }): VerifiedDelivery<string> {
  return { deliveryId: id, label: `test delivery ${id}`, ...(ordering ? { ordering } : {}), event: (stale) => (stale ? 'stale' : 'fresh') };
}

const reports: WebhookError[] = [];
const report = (err: WebhookError): void => void reports.push(err);
beforeEach(() => {
  reports.length = 0;
});

describe('claim step', () => {
  it('claims a new delivery, then calls the completed one a duplicate', async () => {
    const store = new MemoryWebhookStore();
    const claim = await claimDelivery(store, delivery('d1'), report);
    expect(claim).toEqual({ state: 'claimed', token: expect.any(String), stale: false });
    await completeDelivery(store, 'd1', claim, report);
    expect(await claimDelivery(store, delivery('d1'), report)).toEqual({ state: 'duplicate' });
  });

  it('refuses a copy while the first is being handled with 409 delivery_in_progress', async () => {
    const store = new MemoryWebhookStore();
    await claimDelivery(store, delivery('d1'), report);
    await expect(claimDelivery(store, delivery('d1'), report)).rejects.toMatchObject({ code: WebhookErrorCode.DELIVERY_IN_PROGRESS, status: 409 });
  });

  it('marks an event older than one recorded for its key stale', async () => {
    const store = new MemoryWebhookStore();
    await claimDelivery(store, delivery('new', { key: 'k', timestampMs: 2000 }), report);
    const old = await claimDelivery(store, delivery('old', { key: 'k', timestampMs: 1000 }), report);
    expect(old).toMatchObject({ state: 'claimed', stale: true });
  });

  it('releases its claim when the ordering cannot be recorded, so the retry finds the delivery free', async () => {
    const memory = new MemoryWebhookStore();
    let broken = true;
    const store: WebhookStore = {
      claim: (id) => memory.claim(id),
      complete: (id, token) => memory.complete(id, token),
      release: (id, token) => memory.release(id, token),
      keepNewest: (key, t) => (broken ? Promise.reject(new Error('READONLY')) : memory.keepNewest(key, t)),
    };
    const d = delivery('d1', { key: 'k', timestampMs: 1 });
    await expect(claimDelivery(store, d, report)).rejects.toMatchObject({ code: WebhookErrorCode.STORE_UNAVAILABLE });
    broken = false;
    expect(await claimDelivery(store, d, report)).toMatchObject({ state: 'claimed' });
  });

  it('without a store, every delivery is ours and never stale', async () => {
    expect(await claimDelivery(undefined, delivery('d1', { key: 'k', timestampMs: 1 }), report)).toEqual({ state: 'claimed', token: undefined, stale: false });
  });
});

describe('handle and complete steps', () => {
  it('a failing handler is a handler_failed error and its claim is released', async () => {
    const store = new MemoryWebhookStore();
    const claim = await claimDelivery(store, delivery('d1'), report);
    const release = (): Promise<void> => releaseDelivery(store, 'd1', claim, report);
    const failing = handleDelivery(() => Promise.reject(new Error('db down')), 'event', {} as never, release, 'test delivery');
    await expect(failing).rejects.toMatchObject({ code: WebhookErrorCode.HANDLER_FAILED, status: 500 });
    expect(await claimDelivery(store, delivery('d1'), report)).toMatchObject({ state: 'claimed' });
  });

  it('a handler that throws, even from a `then` getter, is handler_failed and releases its claim; one that returns no promise is not awaited', async () => {
    const throwing: (() => unknown)[] = [
      () => {
        throw new Error('sync');
      },
      // A thenable whose `then` getter throws (defined, not written as a literal `then`).
      () =>
        Object.defineProperty({}, 'then', {
          get(): never {
            throw new Error('then getter');
          },
        }),
    ];
    for (const onEvent of throwing) {
      const store = new MemoryWebhookStore();
      const claim = await claimDelivery(store, delivery('d1'), report);
      const release = (): Promise<void> => releaseDelivery(store, 'd1', claim, report);
      await expect(handleDelivery(onEvent, 'event', {} as never, release, 'test delivery')).rejects.toMatchObject({ code: WebhookErrorCode.HANDLER_FAILED });
      expect(await claimDelivery(store, delivery('d1'), report)).toMatchObject({ state: 'claimed' });
    }
    let ran = false;
    const done = handleDelivery(() => { ran = true; return 'ignored'; }, 'event', {} as never, () => Promise.resolve(), 'test delivery');
    expect(done).toBeUndefined();
    expect(ran).toBe(true);
  });

  it('a done mark that cannot be written is reported, not thrown (the event was handled)', async () => {
    const store: WebhookStore = {
      claim: () => Promise.resolve({ state: 'claimed', token: 't' }),
      complete: () => Promise.reject(new Error('OOM command not allowed')),
      release: () => Promise.resolve(),
      keepNewest: (_k, t) => Promise.resolve(t),
    };
    await completeDelivery(store, 'd1', { state: 'claimed', token: 't', stale: false }, report);
    expect(reports.map((r) => r.code)).toEqual([WebhookErrorCode.STORE_UNAVAILABLE]);
  });
});
