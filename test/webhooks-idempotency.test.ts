import type { Redis } from 'ioredis';
import { MemoryWebhookStore, RedisWebhookStore, WebhookErrorCode, type FractalWebhookEvent, type WebhookStore } from '../lib/webhooks';
import { connectRedis, deletePrefix, randomPrefix } from './helpers/redis';
import {
  deferred,
  eventBody,
  expectAccepted,
  expectWebhookError,
  listen,
  postWebhook,
  verificationBody,
  webhookApp,
} from './helpers/webhooks';

let redis: Redis;
const prefix = randomPrefix('webhooks-idem');

beforeAll(async () => {
  redis = await connectRedis();
});
afterAll(async () => {
  await deletePrefix(redis, prefix);
  redis.disconnect();
});

let run = 0;
/** A unique user per test, so Redis state of one test never meets another's. */
const user = (): string => `user-${process.pid}-${++run}`;

const stores: [string, () => WebhookStore][] = [
  ['memory store', () => new MemoryWebhookStore()],
  ['Redis store', () => new RedisWebhookStore({ client: redis, prefix })],
];

describe.each(stores)('with the %s', (_name, makeStore) => {
  it('hands a delivery to onEvent once when it arrives twice in a row, and acknowledges both', async () => {
    const { app, events } = webhookApp({ store: makeStore() });
    const body = verificationBody('verification_approved', '2021-03-01T10:00:00Z', { user_id: user() });
    expectAccepted(await postWebhook(app, body));
    expectAccepted(await postWebhook(app, body), true);
    expect(events).toHaveLength(1);
  });

  it('processes concurrent copies once: others get 409 + Retry-After until the first succeeded', async () => {
    const gate = deferred();
    const { app, events } = webhookApp({ store: makeStore(), onEvent: () => gate.promise });
    const server = await listen(app);
    try {
      const body = verificationBody('verification_approved', '2021-03-01T10:00:00Z', { user_id: user() });
      const first = postWebhook(server.url, body).then((res) => res);
      // Wait until the first copy is inside onEvent, then fire copies at the same server.
      while (events.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      const copies = await Promise.all(Array.from({ length: 5 }, () => postWebhook(server.url, body)));
      for (const res of copies) {
        expectWebhookError(res, 409, WebhookErrorCode.DELIVERY_IN_PROGRESS);
        expect(res.headers['retry-after']).toBe('1');
      }
      gate.resolve();
      expectAccepted(await first);
      expectAccepted(await postWebhook(server.url, body), true);
      expect(events).toHaveLength(1);
    } finally {
      await server.close();
    }
  });

  it('processes a burst of simultaneous copies exactly once', async () => {
    // The handler holds the first copy until the seven others were answered, so they really
    // overlap with it whatever the machine's load.
    const othersAnswered = deferred();
    const { app, events } = webhookApp({ store: makeStore(), onEvent: () => othersAnswered.promise });
    const server = await listen(app);
    try {
      const body = eventBody('email_changed', { user_id: user(), email: 'new@example.com' });
      const pending = Array.from({ length: 8 }, () => postWebhook(server.url, body));
      const settled: Awaited<(typeof pending)[number]>[] = [];
      for (const p of pending) void p.then((res) => settled.push(res)).then(() => settled.length === 7 && othersAnswered.resolve());
      const answers = await Promise.all(pending);
      expect(answers.filter((res) => res.status === 200)).toHaveLength(1);
      expect(answers.filter((res) => res.status === 409)).toHaveLength(7);
      expect(events).toHaveLength(1);
    } finally {
      await server.close();
    }
  });

  it('runs onEvent again for a retry after a failed attempt', async () => {
    let calls = 0;
    const { app, events } = webhookApp({
      store: makeStore(),
      onEvent: () => {
        calls += 1;
        if (calls === 1) throw new Error('database down');
      },
    });
    const body = verificationBody('verification_rejected', '2021-03-01T10:00:00Z', { user_id: user() });
    expectWebhookError(await postWebhook(app, body), 500, WebhookErrorCode.HANDLER_FAILED);
    expectAccepted(await postWebhook(app, body));
    expectAccepted(await postWebhook(app, body), true);
    expect(events).toHaveLength(2);
  });

  it('marks a late verification_contacted stale after a newer verification_approved', async () => {
    const { app, events } = webhookApp({ store: makeStore() });
    const uid = user();
    expectAccepted(await postWebhook(app, verificationBody('verification_approved', '2021-03-01T10:00:05Z', { user_id: uid })));
    expectAccepted(await postWebhook(app, verificationBody('verification_contacted', '2021-03-01T10:00:01Z', { user_id: uid })));
    // Another level and another user are ordered on their own.
    expectAccepted(await postWebhook(app, verificationBody('verification_contacted', '2021-03-01T10:00:01Z', { user_id: uid, level: 'plus' })));
    expectAccepted(await postWebhook(app, verificationBody('verification_contacted', '2021-03-01T10:00:01Z', { user_id: user() })));
    expect(summary(events)).toEqual([
      ['verification_approved', 'basic', false],
      ['verification_contacted', 'basic', true],
      ['verification_contacted', 'plus', false],
      ['verification_contacted', 'basic', false],
    ]);
  });

  it('does not mark events stale when they arrive in order, or share a timestamp', async () => {
    const { app, events } = webhookApp({ store: makeStore() });
    const uid = user();
    expectAccepted(await postWebhook(app, verificationBody('verification_contacted', '2021-03-01T10:00:01Z', { user_id: uid })));
    expectAccepted(await postWebhook(app, verificationBody('verification_approved', '2021-03-01T10:00:05Z', { user_id: uid })));
    expectAccepted(await postWebhook(app, verificationBody('verification_rejected', '2021-03-01T10:00:05Z', { user_id: uid })));
    expect(summary(events).map(([, , stale]) => stale)).toEqual([false, false, false]);
  });

  it('never marks credential_shared, email_changed or unknown types stale', async () => {
    const { app, events } = webhookApp({ store: makeStore() });
    const uid = user();
    expectAccepted(await postWebhook(app, eventBody('email_changed', { user_id: uid, email: 'b@example.com' })));
    expectAccepted(await postWebhook(app, eventBody('email_changed', { user_id: uid, email: 'a@example.com' })));
    expectAccepted(await postWebhook(app, eventBody('credential_shared', { idos_human_id: uid, credential_id: 'c2', shared_at: '2021-03-02T00:00:00Z' })));
    expectAccepted(await postWebhook(app, eventBody('credential_shared', { idos_human_id: uid, credential_id: 'c1', shared_at: '2021-03-01T00:00:00Z' })));
    expectAccepted(await postWebhook(app, eventBody('verification_expired', { user_id: uid, level: 'basic', timestamp: '2000-01-01T00:00:00Z' })));
    expect(events.map((e) => e.stale)).toEqual([false, false, false, false, false]);
  });
});

describe('several processes sharing Redis', () => {
  it('process one delivery once, whichever process receives the copies', async () => {
    const gate = deferred();
    const storeA = new RedisWebhookStore({ client: redis, prefix });
    const a = webhookApp({ store: storeA, onEvent: () => gate.promise });
    const other = await connectRedis();
    const b = webhookApp({ store: new RedisWebhookStore({ client: other, prefix }) });
    try {
      const body = verificationBody('verification_approved', '2021-03-01T10:00:00Z', { user_id: user() });
      const first = postWebhook(a.app, body).then((res) => res);
      while (a.events.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      expectWebhookError(await postWebhook(b.app, body), 409, WebhookErrorCode.DELIVERY_IN_PROGRESS);
      gate.resolve();
      expectAccepted(await first);
      // The done mark follows the answer (it rides on a later claim, or goes after doneMarkDelayMs).
      await storeA.flush();
      expectAccepted(await postWebhook(b.app, body), true);
      expect([a.events.length, b.events.length]).toEqual([1, 0]);
    } finally {
      other.disconnect();
    }
  });

  it('share the ordering: a process seeing the older event marks it stale', async () => {
    const a = webhookApp({ store: new RedisWebhookStore({ client: redis, prefix }) });
    const b = webhookApp({ store: new RedisWebhookStore({ client: redis, prefix }) });
    const uid = user();
    expectAccepted(await postWebhook(a.app, verificationBody('verification_approved', '2021-03-01T10:00:05Z', { user_id: uid })));
    expectAccepted(await postWebhook(b.app, verificationBody('verification_contacted', '2021-03-01T10:00:01Z', { user_id: uid })));
    expect(b.events[0]?.stale).toBe(true);
  });
});

describe('when the store fails', () => {
  it('answers 503 with Retry-After, and does not call onEvent', async () => {
    const failing: WebhookStore = {
      claim: () => Promise.reject(Object.assign(new Error('connect ECONNREFUSED 10.0.0.9:6379'), { retryAfter: 2 })),
      complete: () => Promise.resolve(),
      release: () => Promise.resolve(),
      keepNewest: () => Promise.resolve(0),
    };
    const { app, events, errors } = webhookApp({ store: failing });
    const res = await postWebhook(app, verificationBody('verification_approved', '2021-03-01T10:00:00Z'));
    expectWebhookError(res, 503, WebhookErrorCode.STORE_UNAVAILABLE);
    expect(res.headers['retry-after']).toBe('2');
    expect(res.text).not.toContain('10.0.0.9');
    expect(events).toHaveLength(0);
    expect(errors[0]?.message).toContain('ECONNREFUSED');
  });

  it('releases the claim when ordering fails, so the retry is processed', async () => {
    const memory = new MemoryWebhookStore();
    let broken = true;
    const flaky: WebhookStore = {
      claim: (id) => memory.claim(id),
      complete: (id, token) => memory.complete(id, token),
      release: (id, token) => memory.release(id, token),
      keepNewest: (key, t) => (broken ? Promise.reject(new Error('READONLY')) : memory.keepNewest(key, t)),
    };
    const { app, events } = webhookApp({ store: flaky });
    const body = verificationBody('verification_approved', '2021-03-01T10:00:00Z');
    expectWebhookError(await postWebhook(app, body), 503, WebhookErrorCode.STORE_UNAVAILABLE);
    broken = false;
    expectAccepted(await postWebhook(app, body));
    expect(events).toHaveLength(1);
  });

  it('still acknowledges a handled event when marking it done fails', async () => {
    const memory = new MemoryWebhookStore();
    const store: WebhookStore = {
      claim: (id) => memory.claim(id),
      complete: () => Promise.reject(new Error('timeout')),
      release: (id, token) => memory.release(id, token),
      keepNewest: (key, t) => memory.keepNewest(key, t),
    };
    const { app, events, errors } = webhookApp({ store });
    expectAccepted(await postWebhook(app, verificationBody('verification_approved', '2021-03-01T10:00:00Z')));
    expect(events).toHaveLength(1);
    expect(errors.map((e) => e.code)).toEqual([WebhookErrorCode.STORE_UNAVAILABLE]);
  });

  it('answers 503 quickly when Redis is down (store_unavailable, no hang, no 500)', async () => {
    const down = await connectRedis();
    down.disconnect();
    const { app, events } = webhookApp({ store: new RedisWebhookStore({ client: down, prefix }) });
    const started = Date.now();
    expectWebhookError(await postWebhook(app, verificationBody('verification_approved', '2021-03-01T10:00:00Z')), 503, WebhookErrorCode.STORE_UNAVAILABLE);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(events).toHaveLength(0);
  });
});

describe('without a store (store: false)', () => {
  it('hands every copy to onEvent and never marks events stale', async () => {
    const { app, events } = webhookApp({ store: false });
    const body = verificationBody('verification_approved', '2021-03-01T10:00:05Z');
    expectAccepted(await postWebhook(app, body));
    expectAccepted(await postWebhook(app, body));
    expectAccepted(await postWebhook(app, verificationBody('verification_contacted', '2021-03-01T10:00:01Z')));
    expect(events.map((e) => e.stale)).toEqual([false, false, false]);
  });
});

function summary(events: FractalWebhookEvent[]): [string, string, boolean][] {
  return events.map((e) => [e.type, e.known && 'level' in e.data ? e.data.level : '', e.stale]);
}

