import type { Cluster, Redis } from 'ioredis';
import { RedisWebhookStore } from '../lib/webhooks';
import { startLocalCluster, type LocalCluster } from './helpers/cluster';
import { eventually } from './helpers/eventually';
import { connectRedis, deletePrefix, randomPrefix } from './helpers/redis';
import { eventBody, expectAccepted, postWebhook, verificationBody, webhookApp } from './helpers/webhooks';

// Issue 16 item 3: Redis round trips per delivery, counted at the server with MONITOR (only this
// file's key prefix counts: other test files share the server).

jest.setTimeout(90_000);

describe('Redis round trips per delivery (MONITOR)', () => {
  const prefix = randomPrefix('webhooks-rtt');
  let redis: Redis;
  let monitor: Redis;
  const seen: string[][] = [];

  beforeAll(async () => {
    redis = await connectRedis();
    monitor = await redis.duplicate().monitor();
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      // Commands a script runs show up with source "lua": they are not round trips.
      if (source === 'lua') return;
      if (args.some((a) => typeof a === 'string' && a.startsWith(prefix))) seen.push(args);
    });
  });
  afterAll(async () => {
    monitor.disconnect();
    await deletePrefix(redis, prefix);
    redis.disconnect();
  });

  /** The commands our store sent while `run` ran (MONITOR lines arrive asynchronously). */
  async function commandsDuring(run: () => Promise<unknown>, expected: number): Promise<string[]> {
    seen.length = 0;
    await run();
    await eventually(async () => expect(seen.length).toBeGreaterThanOrEqual(expected), 5000);
    await new Promise((resolve) => setTimeout(resolve, 200)); // any straggler would show up here
    return seen.map((args) => String(args[0]).toLowerCase());
  }

  it('a new verification event costs 2 commands (claim+ordering in one script, then the done mark); a duplicate 1', async () => {
    const store = new RedisWebhookStore({ client: redis, prefix });
    const { app, events } = webhookApp({ store });
    // Warm up: the first EVALSHA of a script may be answered NOSCRIPT and re-sent as EVAL.
    await postWebhook(app, verificationBody('verification_approved', '2021-03-01T10:00:00Z', { user_id: 'warm-up' }));

    const body = verificationBody('verification_approved', '2021-03-01T10:00:00Z', { user_id: `rtt-${Date.now()}` });
    const first = await commandsDuring(async () => expectAccepted(await postWebhook(app, body)), 2);
    expect(first).toEqual(['evalsha', 'set']);
    const copy = await commandsDuring(async () => expectAccepted(await postWebhook(app, body), true), 1);
    expect(copy).toEqual(['evalsha']);
    // The one script did record the ordering: an older event of the same case is stale.
    const older = verificationBody('verification_contacted', '2021-03-01T09:00:00Z', { user_id: JSON.parse(body).data.user_id });
    expectAccepted(await postWebhook(app, older));
    expect(events.at(-1)?.stale).toBe(true);
  });

  it('an unordered event costs 2 commands too (claim, done mark)', async () => {
    const store = new RedisWebhookStore({ client: redis, prefix });
    const { app } = webhookApp({ store });
    await postWebhook(app, eventBody('email_changed', { user_id: 'warm-up', email: 'w@example.com' }));
    const body = eventBody('email_changed', { user_id: `rtt-${Date.now()}`, email: 'a@example.com' });
    expect(await commandsDuring(async () => expectAccepted(await postWebhook(app, body)), 2)).toEqual(['evalsha', 'set']);
  });
});

describe('on a Redis Cluster (3 masters), the delivery and ordering keys share a hash tag', () => {
  let cluster: LocalCluster;
  let client: Cluster;
  beforeAll(async () => {
    cluster = await startLocalCluster();
    client = await cluster.connect();
  });
  afterAll(async () => {
    client?.disconnect();
    await cluster?.destroy();
  });

  it('claims and orders verification events in one script without CROSSSLOT, across many users', async () => {
    const store = new RedisWebhookStore({ client, prefix: randomPrefix('webhooks-cluster') });
    const { app, events, errors } = webhookApp({ store });
    for (let i = 0; i < 12; i++) {
      expectAccepted(await postWebhook(app, verificationBody('verification_approved', '2021-03-01T10:00:05Z', { user_id: `cluster-user-${i}` })));
      expectAccepted(await postWebhook(app, verificationBody('verification_contacted', '2021-03-01T10:00:01Z', { user_id: `cluster-user-${i}` })));
    }
    expect(errors).toEqual([]);
    expect(events.filter((e) => e.stale)).toHaveLength(12);
    const slots = new Set(
      await Promise.all(Array.from({ length: 12 }, (_, i) => client.cluster('KEYSLOT', store.keys().newest(JSON.stringify(['verification', `cluster-user-${i}`, 'basic']))))),
    );
    expect(slots.size).toBeGreaterThan(1); // spread over the cluster, not one slot for everything
  });
});
