import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import {
  DEFAULT_REPLAY_WINDOW_MS,
  MemoryWebhookStore,
  PROVIDER_RETRY_HORIZON_MS,
  RedisWebhookStore,
  WebhookErrorCode,
  fractalWebhooks,
  orderingOf,
} from '../lib/webhooks';
import { connectRedis, deletePrefix, randomPrefix } from './helpers/redis';
import { eventBody, expectAccepted, expectWebhookError, postWebhook, SECRET, verificationBody, webhookApp } from './helpers/webhooks';
import { eventually } from './helpers/eventually';

// Issue 14 item 3: a captured signed event replayed after the idempotency store forgot it must not
// be handled again. The window is the provider's retry horizon (user-integration/webhooks/delivery.md).

const DAY = 86_400_000;
const iso = (ms: number): string => new Date(ms).toISOString();

/** One clock for the store and the middleware, moved by the test. */
function fakeClock(startMs: number): { now: () => number; advance: (ms: number) => void } {
  let t = startMs;
  return {
    now: () => t,
    advance: (ms) => {
      t += ms;
    },
  };
}

describe('replay window (memory store, fake clock)', () => {
  it('an old captured event replayed after the store forgot it is refused with 400 event_too_old, and the handler is not called', async () => {
    const clock = fakeClock(Date.parse('2026-01-10T12:00:00Z'));
    const store = new MemoryWebhookStore({ now: clock.now });
    const { app, events, errors } = webhookApp({ store, now: clock.now, replayWindowMs: DEFAULT_REPLAY_WINDOW_MS });
    const captured = eventBody('verification_rejected', { level: 'basic', user_id: 'u1', timestamp: iso(clock.now()) });

    expectAccepted(await postWebhook(app, captured));
    clock.advance(3 * DAY);
    expectAccepted(await postWebhook(app, captured), true); // a copy while remembered: duplicate

    clock.advance(store.ttls.doneTtlMs); // the store has forgotten the delivery
    expect(await store.claim(createHash('sha256').update(captured).digest('hex'))).toMatchObject({ state: 'claimed' });
    const replay = await postWebhook(app, captured);
    expectWebhookError(replay, 400, WebhookErrorCode.EVENT_TOO_OLD);
    expect(events).toHaveLength(1);
    expect(errors.map((e) => e.code)).toEqual([WebhookErrorCode.EVENT_TOO_OLD]);
  });

  it('without the window the same replay is handled again (what the window prevents)', async () => {
    const clock = fakeClock(Date.parse('2026-01-10T12:00:00Z'));
    const store = new MemoryWebhookStore({ now: clock.now });
    const { app, events } = webhookApp({ store, now: clock.now, replayWindowMs: false });
    const captured = verificationBody('verification_rejected', iso(clock.now()));
    expectAccepted(await postWebhook(app, captured));
    clock.advance(store.ttls.doneTtlMs + 1);
    expectAccepted(await postWebhook(app, captured));
    expect(events).toHaveLength(2);
  });

  it('accepts a genuine last retry, made at the provider retry horizon, by default', async () => {
    expect(PROVIDER_RETRY_HORIZON_MS).toBe(884_460_000); // 20,460 s of doubling retries + 10 daily ones
    expect(DEFAULT_REPLAY_WINDOW_MS).toBeGreaterThan(PROVIDER_RETRY_HORIZON_MS);
    const now = Date.parse('2026-01-10T12:00:00Z');
    const { app, events } = webhookApp({ now: () => now, replayWindowMs: DEFAULT_REPLAY_WINDOW_MS });
    expectAccepted(await postWebhook(app, verificationBody('verification_approved', iso(now - PROVIDER_RETRY_HORIZON_MS))));
    expect(events).toHaveLength(1);
  });

  it('is the default: an event older than 11 days is refused without any option', async () => {
    // `replayWindowMs: undefined` undoes the helper's `false`: the middleware's own default applies.
    const { app, events } = webhookApp({ replayWindowMs: undefined });
    const old = verificationBody('verification_approved', iso(Date.now() - DEFAULT_REPLAY_WINDOW_MS - 60_000));
    expectWebhookError(await postWebhook(app, old), 400, WebhookErrorCode.EVENT_TOO_OLD);
    expectAccepted(await postWebhook(app, verificationBody('verification_approved', iso(Date.now() - 60_000))));
    expect(events).toHaveLength(1);
  });

  it('uses shared_at for credential_shared; email_changed and unknown types carry no signed time and are de-duplicated only', async () => {
    const now = Date.parse('2026-01-10T12:00:00Z');
    const { app, events } = webhookApp({ now: () => now, replayWindowMs: DAY });
    const oldShare = eventBody('credential_shared', { idos_human_id: 'h', credential_id: 'c', shared_at: iso(now - 2 * DAY) });
    expectWebhookError(await postWebhook(app, oldShare), 400, WebhookErrorCode.EVENT_TOO_OLD);
    expectAccepted(await postWebhook(app, eventBody('email_changed', { user_id: 'u1', email: 'a@example.com' })));
    // An undocumented type's fields are not trusted as a signed time.
    expectAccepted(await postWebhook(app, eventBody('verification_expired', { user_id: 'u1', timestamp: iso(now - 2 * DAY) })));
    expect(events.map((e) => e.type)).toEqual(['email_changed', 'verification_expired']);
  });

  it('refuses at start-up a window longer than what the store remembers', () => {
    const make = (store: MemoryWebhookStore, replayWindowMs?: number) => () =>
      fractalWebhooks({ secrets: SECRET, onEvent: () => undefined, store, ...(replayWindowMs === undefined ? {} : { replayWindowMs }) });
    expect(make(new MemoryWebhookStore({ doneTtlMs: 7 * DAY }))).toThrow(/doneTtlMs.*shorter than `replayWindowMs`/);
    expect(make(new MemoryWebhookStore({ orderingTtlMs: DAY }), DAY * 2)).toThrow(/orderingTtlMs/);
    expect(make(new MemoryWebhookStore())).not.toThrow();
    expect(() => fractalWebhooks({ secrets: SECRET, onEvent: () => undefined, replayWindowMs: 0 })).toThrow(/replayWindowMs/);
  });
});

describe('replay window (Redis store, real expiry)', () => {
  const prefix = randomPrefix('webhooks-replay');
  let redis: Redis;
  beforeAll(async () => {
    redis = await connectRedis();
  });
  afterAll(async () => {
    await deletePrefix(redis, prefix);
    redis.disconnect();
  });

  it('a replay after Redis expired the done mark is refused, and the handler is not called', async () => {
    // Short TTLs so the real expiry happens during the test; the window is shorter than doneTtlMs, as required.
    const store = new RedisWebhookStore({ client: redis, prefix, doneTtlMs: 1500, orderingTtlMs: 1500 });
    const { app, events } = webhookApp({ store, replayWindowMs: 1000 });
    const captured = verificationBody('verification_approved', iso(Date.now()), { user_id: `replay-${process.pid}-${Date.now()}` });
    expectAccepted(await postWebhook(app, captured));
    const key = store.keys().delivery(createHash('sha256').update(captured).digest('hex'), orderingOf(JSON.parse(captured))?.key);
    // The done mark follows the answer, on its own after doneMarkDelayMs when no claim carries it.
    await eventually(async () => expect(await redis.get(key)).toBe('done'), 2000);
    await eventually(async () => expect(await redis.exists(key)).toBe(0), 5000);
    expectWebhookError(await postWebhook(app, captured), 400, WebhookErrorCode.EVENT_TOO_OLD);
    expect(events).toHaveLength(1);
  });
});
