import { createHash } from 'node:crypto';
import type { Redis, RedisOptions } from 'ioredis';
import type { Response } from 'supertest';
import { orderingOf, RedisWebhookStore, WebhookErrorCode, WebhookSender, type DeliveryAttempt } from '../lib/webhooks';
import { connectRedis, deletePrefix, randomPrefix, SHARED_REDIS, startSmallRedis, type SmallRedis } from './helpers/redis';
import { startTcpProxy, type DropMode, type TcpProxy } from './helpers/tcp-proxy';
import { deferred, eventBody, expectAccepted, expectWebhookError, listen, postWebhook, SECRET, verificationBody, webhookApp } from './helpers/webhooks';
import { eventually } from './helpers/eventually';

jest.setTimeout(90_000);

/** Generous bound that only proves "answered, not hanging" (the store's deadline is 1 s per operation). */
const NO_HANG_MS = 5000;

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};
beforeAll(() => {
  process.on('unhandledRejection', onUnhandled);
});
afterAll(() => {
  process.off('unhandledRejection', onUnhandled);
});

let run = 0;
/** A unique user per delivery, so no two tests share a delivery id or an ordering key. */
const user = (): string => `faults-${process.pid}-${Date.now()}-${++run}`;
const deliveryIdOf = (body: string): string => createHash('sha256').update(body).digest('hex');


async function timed(send: PromiseLike<Response>): Promise<{ res: Response; ms: number }> {
  const started = Date.now();
  const res = await send;
  return { res, ms: Date.now() - started };
}

describe('Redis full (a private redis-server with maxmemory and noeviction)', () => {
  const prefix = randomPrefix('webhooks-full');
  let server: SmallRedis;
  let admin: Redis;
  let redis: Redis;
  let store: RedisWebhookStore;
  const fill = () => server.fill();
  const free = () => server.free();

  beforeAll(async () => {
    server = await startSmallRedis(prefix);
    admin = server.admin;
    redis = await connectRedis({ port: server.port });
    store = new RedisWebhookStore({ client: redis, prefix, operationTimeoutMs: 1000 });
  });
  afterAll(async () => {
    redis?.disconnect();
    await server?.destroy();
  });
  afterEach(free);

  test('a delivery that cannot be claimed (OOM) gets 503 store_unavailable with Retry-After and is not handled; after memory is freed its redelivery is handled exactly once', async () => {
    const { app, events, errors } = webhookApp({ store });
    const body = verificationBody('verification_approved', '2021-03-01T10:00:00Z', { user_id: user() });
    await fill();

    for (let attempt = 0; attempt < 2; attempt++) {
      const { res, ms } = await timed(postWebhook(app, body));
      expectWebhookError(res, 503, WebhookErrorCode.STORE_UNAVAILABLE);
      expect(res.headers['retry-after']).toBe('1');
      expect(ms).toBeLessThan(NO_HANG_MS);
    }
    expect(events).toHaveLength(0);
    expect(errors.map((e) => e.code)).toEqual([WebhookErrorCode.STORE_UNAVAILABLE, WebhookErrorCode.STORE_UNAVAILABLE]);
    expect(errors[0]?.message).toMatch(/OOM command not allowed/);
    // Nothing half-claimed that would hold the retries off.
    expect(await admin.exists(store.keys().delivery(deliveryIdOf(body), orderingOf(JSON.parse(body))?.key))).toBe(0);

    await free();
    expectAccepted(await postWebhook(app, body));
    // The done mark follows the answer; once it is in Redis a copy is a duplicate (before, a 409).
    await store.flush();
    expectAccepted(await postWebhook(app, body), true);
    expect(events).toHaveLength(1);
    expect(unhandled).toEqual([]);
  });

  test('the sender retries a delivery refused while Redis is full, and it is handled once when memory is freed', async () => {
    const { app, events } = webhookApp({ store });
    const server = await listen(app);
    const attempts: DeliveryAttempt[] = [];
    const firstRefused = deferred();
    const sender = new WebhookSender({
      url: server.url,
      secrets: SECRET,
      retry: { initialDelayMs: 100, maxDelayMs: 200, maxAttempts: 50 },
      timeoutMs: NO_HANG_MS,
      onAttempt: (attempt) => {
        attempts.push(attempt);
        if (attempt.status === 503) firstRefused.resolve();
      },
    });
    try {
      await fill();
      const result = sender.send({ type: 'email_changed', data: { user_id: user(), email: 'full@example.com' } });
      await firstRefused.promise;
      await free();
      const { ok, status } = await result;
      expect({ ok, status }).toEqual({ ok: true, status: 200 });
      // Every refusal was a 503 that the sender retries; never a 500 (handler_failed) or a 4xx.
      expect(new Set(attempts.slice(0, -1).map((a) => a.status))).toEqual(new Set([503]));
      expect(events).toHaveLength(1);
    } finally {
      await sender.close();
      await server.close();
    }
    expect(unhandled).toEqual([]);
  });

  test('Redis fills up while onEvent runs: the delivery is acknowledged (it was handled), and a copy is not handled again while its claim stands', async () => {
    const { app, events, errors } = webhookApp({ store, onEvent: fill });
    const body = eventBody('email_changed', { user_id: user(), email: 'late@example.com' });

    expectAccepted(await postWebhook(app, body));
    expect(events).toHaveLength(1);
    // Marking it done needed memory: reported (after the answer, which does not wait for the
    // mark, and after a second try), but the answer is still 2xx, or the provider would deliver
    // the handled event again.
    await eventually(async () => expect(errors.map((e) => e.code)).toEqual([WebhookErrorCode.STORE_UNAVAILABLE]), 5000);
    expect(errors[0]?.message).toMatch(/OOM command not allowed/);

    await free();
    expectWebhookError(await postWebhook(app, body), 409, WebhookErrorCode.DELIVERY_IN_PROGRESS);
    expect(events).toHaveLength(1);
    expect(unhandled).toEqual([]);
  });
});

describe('Redis behind a faulty network (a TCP proxy in front of the shared Redis)', () => {
  const prefix = randomPrefix('webhooks-faults');
  let admin: Redis;
  let proxy: TcpProxy;
  const clients: Redis[] = [];
  const storeThroughProxy = async (clientOptions: RedisOptions = {}): Promise<{ store: RedisWebhookStore; client: Redis }> => {
    const client = await connectRedis({ host: proxy.host, port: proxy.port, ...clientOptions });
    clients.push(client);
    // The default processingTtlMs (60 s): a claim nobody owns would hold copies off for a minute.
    return { client, store: new RedisWebhookStore({ client, prefix, operationTimeoutMs: 1000 }) };
  };

  beforeAll(async () => {
    admin = await connectRedis();
    // Cache the store's scripts, so a claim is one EVALSHA naming the key (what the drops match).
    await new RedisWebhookStore({ client: admin, prefix }).claim('warm-up');
    proxy = await startTcpProxy(SHARED_REDIS);
  });
  afterAll(async () => {
    for (const client of clients) client.disconnect();
    await proxy?.close();
    if (admin) {
      await deletePrefix(admin, prefix);
      admin.disconnect();
    }
  });
  afterEach(() => {
    proxy.delay(0);
    proxy.disarm();
  });

  test('slow Redis (1.5 s per hop): 503 store_unavailable within the operation timeout, not handled; once fast again the redelivery is handled exactly once', async () => {
    const { store } = await storeThroughProxy();
    const { app, events } = webhookApp({ store });
    const body = verificationBody('verification_rejected', '2021-03-01T10:00:00Z', { user_id: user() });

    proxy.delay(1500);
    const { res, ms } = await timed(postWebhook(app, body));
    expectWebhookError(res, 503, WebhookErrorCode.STORE_UNAVAILABLE);
    expect(ms).toBeLessThan(NO_HANG_MS);
    expect(events).toHaveLength(0);

    proxy.delay(0);
    // The late claim lands all the same; the next copy reaching this process takes it over rather
    // than answering 409 until processingTtlMs (60 s). Handled once, then acknowledged as a duplicate.
    await eventually(async () => expectAccepted(await postWebhook(app, body)), 10_000);
    expectAccepted(await postWebhook(app, body), true);
    expect(events).toHaveLength(1);
    expect(unhandled).toEqual([]);
  });

  const resendModes: [string, RedisOptions][] = [
    ['ioredis re-sends it after reconnecting', {}],
    ['autoResendUnfulfilledCommands off', { autoResendUnfulfilledCommands: false }],
  ];
  const dropModes: DropMode[] = ['unsent', 'reply-lost'];
  const cases = dropModes.flatMap((mode) => resendModes.map(([name, options]) => [mode, name, options] as const));

  test.each(cases)(
    'connection dropped on the claim (%s; %s): 200 or 503, never a hang; redelivered, it is handled exactly once without waiting for the claim to expire',
    async (mode, _name, clientOptions) => {
      const { store } = await storeThroughProxy(clientOptions);
      const { app, events } = webhookApp({ store });
      const body = verificationBody('verification_approved', '2021-03-01T10:00:00Z', { user_id: user() });
      const key = store.keys().delivery(deliveryIdOf(body), orderingOf(JSON.parse(body))?.key);
      const fired = proxy.dropNext({ mode, match: key });

      const { res, ms } = await timed(postWebhook(app, body));
      await fired;
      expect(ms).toBeLessThan(NO_HANG_MS);
      if (res.status === 200) expectAccepted(res);
      else expectWebhookError(res, 503, WebhookErrorCode.STORE_UNAVAILABLE);

      // The provider's retry, within seconds (it waits 20 s; the claim would last 60 s).
      await eventually(async () => expect((await postWebhook(app, body)).status).toBe(200), 10_000);
      expectAccepted(await postWebhook(app, body), true);
      expect(events).toHaveLength(1);
      expect(await admin.get(key)).toBe('done');
      expect(unhandled).toEqual([]);
    },
  );

  test('after a claim whose answer was lost, simultaneous copies: exactly one takes it over and is handled, the others get 409', async () => {
    const { store, client } = await storeThroughProxy({ autoResendUnfulfilledCommands: false });
    // The handler holds the copy it got until the others were answered, so they really overlap.
    const othersAnswered = deferred();
    const { app, events } = webhookApp({ store, onEvent: () => othersAnswered.promise });
    const server = await listen(app);
    try {
      const body = eventBody('email_changed', { user_id: user(), email: 'copies@example.com' });
      const key = store.keys().delivery(deliveryIdOf(body), orderingOf(JSON.parse(body))?.key);
      const fired = proxy.dropNext({ mode: 'reply-lost', match: key });
      expectWebhookError(await postWebhook(server.url, body), 503, WebhookErrorCode.STORE_UNAVAILABLE);
      await fired;
      // The claim did land: it is the lost answer's, and nobody else's.
      expect(await admin.get(key)).toMatch(/^p:/);
      await eventually(async () => expect(client.status).toBe('ready'));

      const copies = Array.from({ length: 6 }, () => postWebhook(server.url, body));
      let answered = 0;
      for (const copy of copies) void copy.then(() => ++answered === copies.length - 1 && othersAnswered.resolve());
      const answers = await Promise.all(copies);
      expect(answers.map((res) => res.status).sort()).toEqual([200, 409, 409, 409, 409, 409]);
      expect(events).toHaveLength(1);
      expectAccepted(await postWebhook(server.url, body), true);
      expect(events).toHaveLength(1);
    } finally {
      othersAnswered.resolve();
      await server.close();
    }
    expect(unhandled).toEqual([]);
  });
});
