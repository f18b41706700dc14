import { createHash } from 'node:crypto';
import { Redis, type Cluster } from 'ioredis';
import { RedisWebhookStore, signFractalWebhook, WebhookErrorCode } from '../lib/webhooks';
import { startLocalCluster, type LocalCluster } from './helpers/cluster';
import { eventually } from './helpers/eventually';
import { CLAIM_BATCH } from '../lib/webhooks/claim-batch';
import { connectRedis, deletePrefix, randomPrefix, SHARED_REDIS, startRedisServer } from './helpers/redis';
import { startTcpProxy, type TcpProxy } from './helpers/tcp-proxy';
import { eventBody, expectAccepted, expectWebhookError, listen, postWebhook, SECRET, verificationBody, webhookApp } from './helpers/webhooks';

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

  /** A store whose done marks wait long enough for the test to decide when they go. */
  const slowMarks = () => new RedisWebhookStore({ client: redis, prefix, doneMarkDelayMs: 10_000 });

  it('a new verification event costs 1 command: its done mark rides on the next claim (claim+ordering+marks in one script)', async () => {
    const store = slowMarks();
    const { app, events } = webhookApp({ store });
    // Warm up: the first EVALSHA of a script may be answered NOSCRIPT and re-sent as EVAL.
    await postWebhook(app, verificationBody('verification_approved', '2021-03-01T10:00:00Z', { user_id: 'warm-up' }));
    await commandsDuring(() => store.flush(), 1);

    const a = verificationBody('verification_approved', '2021-03-01T10:00:00Z', { user_id: `rtt-a-${Date.now()}` });
    const b = verificationBody('verification_approved', '2021-03-01T10:00:00Z', { user_id: `rtt-b-${Date.now()}` });
    const keyOf = (body: string) => store.keys().delivery(sha256(body), JSON.stringify(['verification', JSON.parse(body).data.user_id, 'basic']));
    expect(await commandsDuring(async () => expectAccepted(await postWebhook(app, a)), 1)).toEqual(['evalsha']);
    // Answered, mark not sent yet: a copy reaching another process now is "in progress" (retried
    // later), never handled twice.
    expect(await redis.get(keyOf(a))).toMatch(/^p:/);
    const otherProcess = webhookApp({ store: new RedisWebhookStore({ client: redis, prefix }) });
    await commandsDuring(async () => expectWebhookError(await postWebhook(otherProcess.app, a), 409, WebhookErrorCode.DELIVERY_IN_PROGRESS), 1);
    expect(otherProcess.events).toHaveLength(0);
    const claimB = await commandsDuring(async () => expectAccepted(await postWebhook(app, b)), 1);
    expect(claimB).toEqual(['evalsha']);
    // B's one script carried A's mark.
    expect(seen[0]).toEqual(expect.arrayContaining([keyOf(a), keyOf(b)]));
    expect(await redis.get(keyOf(a))).toBe('done');
    expect(await commandsDuring(() => store.flush(), 1)).toEqual(['evalsha']);
    expect(await redis.get(keyOf(b))).toBe('done');
    const copy = await commandsDuring(async () => expectAccepted(await postWebhook(app, a), true), 1);
    expect(copy).toEqual(['evalsha']);
    expect(events.filter((e) => e.type === 'verification_approved' && (e.data as { user_id: string }).user_id.startsWith('rtt-a-'))).toHaveLength(1);
    // The one script did record the ordering: an older event of the same case is stale.
    const older = verificationBody('verification_contacted', '2021-03-01T09:00:00Z', { user_id: JSON.parse(a).data.user_id });
    expectAccepted(await postWebhook(app, older));
    expect(events.at(-1)?.stale).toBe(true);
    await store.flush();
  });

  it('an unordered event costs 1 command too; with no claim coming, its mark goes on its own after doneMarkDelayMs', async () => {
    const store = new RedisWebhookStore({ client: redis, prefix, doneMarkDelayMs: 300 });
    const { app } = webhookApp({ store });
    await postWebhook(app, eventBody('email_changed', { user_id: 'warm-up', email: 'w@example.com' }));
    await commandsDuring(() => store.flush(), 1);
    const first = eventBody('email_changed', { user_id: `rtt-${Date.now()}`, email: 'a@example.com' });
    const second = eventBody('email_changed', { user_id: `rtt2-${Date.now()}`, email: 'b@example.com' });
    const both = await commandsDuring(async () => {
      expectAccepted(await postWebhook(app, first));
      expectAccepted(await postWebhook(app, second));
    }, 2);
    expect(both).toEqual(['evalsha', 'evalsha']);
    const key = store.keys().delivery(sha256(second));
    expect(await redis.get(key)).toMatch(/^p:/);
    // Nobody else claims: the timer sends the last mark by itself.
    seen.length = 0;
    await eventually(async () => expect(await redis.get(key)).toBe('done'), 5000);
    expect(seen.map((args) => String(args[0]).toLowerCase()).filter((c) => c !== 'get')).toEqual(['evalsha']);
  });

  it('concurrent deliveries share scripts: fewer commands than deliveries, each handled once, every claim atomic', async () => {
    const store = slowMarks();
    const { app, events } = webhookApp({ store });
    const server = await listen(app);
    try {
      const run = `${Date.now()}`;
      const bodies = Array.from({ length: 40 }, (_, i) => verificationBody('verification_approved', '2021-03-01T10:00:00Z', { user_id: `batch-${run}-${i}` }));
      // Every body twice, all at once: copies may meet in one script, which must still give one of them the claim.
      const sent = [...bodies, ...bodies];
      // fetch (undici) writes all requests in one go, so they reach the server in the same turns of its event loop.
      const post = async (body: string) => {
        const res = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-fractal-signature': signFractalWebhook(SECRET, body) }, body });
        return { status: res.status, body: (await res.json()) as { duplicate?: boolean } };
      };
      // One wave first, so that the measured one finds its connections open and arrives at once.
      const warmUp = Array.from({ length: sent.length }, (_, i) => verificationBody('verification_approved', '2021-03-01T10:00:00Z', { user_id: `warm-${run}-${i}` }));
      await Promise.all(warmUp.map(post));
      await commandsDuring(() => store.flush(), 1);
      const before = events.length;
      let answers: { status: number; body: { duplicate?: boolean } }[] = [];
      const commands = await commandsDuring(async () => {
        answers = await Promise.all(sent.map(post));
      }, 1);
      expect(commands.every((c) => c === 'evalsha')).toBe(true);
      expect(commands.length).toBeLessThan(sent.length / 2);
      expect(answers.every((a) => a.status === 200 || a.status === 409)).toBe(true);
      expect(events.length - before).toBe(bodies.length);
      await store.flush();
      for (const body of bodies) expectAccepted(await postWebhook(server.url, body), true);
      expect(events.length - before).toBe(bodies.length);
    } finally {
      await server.close();
    }
  });
});

function sha256(body: string): string {
  return createHash('sha256').update(body).digest('hex');
}

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
    for (const clusterSlots of [undefined, 4]) {
      const store = new RedisWebhookStore({ client, prefix: randomPrefix('webhooks-cluster'), ...(clusterSlots ? { clusterSlots } : {}) });
      const { app, events, errors } = webhookApp({ store });
      for (let i = 0; i < 12; i++) {
        expectAccepted(await postWebhook(app, verificationBody('verification_approved', '2021-03-01T10:00:05Z', { user_id: `cluster-user-${i}` })));
        expectAccepted(await postWebhook(app, verificationBody('verification_contacted', '2021-03-01T10:00:01Z', { user_id: `cluster-user-${i}` })));
        expectAccepted(await postWebhook(app, eventBody('email_changed', { user_id: `cluster-user-${i}`, email: `u${i}@example.com` })));
      }
      await store.flush();
      expect(errors).toEqual([]);
      expect(events.filter((e) => e.stale)).toHaveLength(12);
      const slots = new Set<unknown>();
      for (let i = 0; i < 12; i++) {
        slots.add(await client.cluster('KEYSLOT', store.keys().newest(JSON.stringify(['verification', `cluster-user-${i}`, 'basic']))));
        slots.add(await client.cluster('KEYSLOT', store.keys().delivery(`id-${i}`)));
      }
      // By default one tag, so one slot; with 4, spread over the cluster.
      if (clusterSlots === undefined) expect(slots.size).toBe(1);
      else expect(slots.size).toBeGreaterThan(1);
    }
  });

  /** Runs `run` and returns the commands our keys got from clients (MONITOR on every master: not those a script ran). */
  async function clusterCommandsDuring(prefix: string, run: () => Promise<unknown>): Promise<string[]> {
    const seen: string[] = [];
    const nodes = cluster.nodes.map(({ port }) => new Redis({ port, host: '127.0.0.1' }));
    const monitors = await Promise.all(nodes.map((node) => node.monitor()));
    for (const node of nodes) node.disconnect();
    for (const monitor of monitors) {
      monitor.on('monitor', (_time: string, args: string[], source: string) => {
        if (source !== 'lua' && args.some((a) => typeof a === 'string' && a.startsWith(prefix))) seen.push(String(args[0]).toLowerCase());
      });
    }
    try {
      await run();
      await new Promise((resolve) => setTimeout(resolve, 300)); // MONITOR lines arrive asynchronously
    } finally {
      for (const monitor of monitors) monitor.disconnect();
    }
    return seen;
  }

  it('keys use clusterSlots hash tags, so concurrent claims and their done marks share scripts: fewer commands than deliveries, each handled once', async () => {
    const prefix = randomPrefix('webhooks-cluster-batch');
    const store = new RedisWebhookStore({ client, prefix, clusterSlots: 2, doneMarkDelayMs: 10_000 });
    const orderingKey = (user: string) => JSON.stringify(['verification', user, 'basic']);
    // Two tags: every key sits in one of two slots, a delivery in its ordering key's.
    const tagged = new Set<number>();
    for (let i = 0; i < 20; i++) {
      const deliverySlot = await client.cluster('KEYSLOT', store.keys().delivery(`id-${i}`, orderingKey(`u-${i}`)));
      expect(await client.cluster('KEYSLOT', store.keys().newest(orderingKey(`u-${i}`)))).toBe(deliverySlot);
      tagged.add(Number(deliverySlot));
      tagged.add(Number(await client.cluster('KEYSLOT', store.keys().delivery(`id-${i}`))));
    }
    expect(tagged.size).toBe(2);

    const { app, events, errors } = webhookApp({ store });
    const server = await listen(app);
    try {
      const run = `${Date.now()}`;
      const post = async (body: string) => {
        const res = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-fractal-signature': signFractalWebhook(SECRET, body) }, body });
        return res.status;
      };
      const wave = (name: string) => Array.from({ length: 40 }, (_, i) => verificationBody('verification_approved', '2021-03-01T10:00:00Z', { user_id: `${name}-${run}-${i}` }));
      // A first wave warms up connections and scripts; its marks wait for the measured wave.
      expect(new Set(await Promise.all(wave('warm').map(post)))).toEqual(new Set([200]));
      const bodies = wave('batch');
      let statuses: number[] = [];
      const commands = await clusterCommandsDuring(prefix, async () => {
        statuses = await Promise.all([...bodies, ...bodies].map(post));
      });
      expect(statuses.every((s) => s === 200 || s === 409)).toBe(true);
      // Only copies meeting their twin while it is handled (409, retried by the provider).
      expect(errors.filter((e) => e.code !== WebhookErrorCode.DELIVERY_IN_PROGRESS)).toEqual([]);
      // 80 deliveries, carrying the 40 marks of the first wave too: scripts only, far fewer than deliveries.
      expect(new Set(commands)).toEqual(new Set(['evalsha']));
      expect(commands.length).toBeLessThan(bodies.length * 2); // one claim script and one SET each would be 120
      const firstWaveDone = await Promise.all(wave('warm').map((body) => client.get(store.keys().delivery(sha256(body), orderingKey(JSON.parse(body).data.user_id)))));
      expect(new Set(firstWaveDone)).toEqual(new Set(['done']));
      expect(events.filter((e) => (e.data as { user_id: string }).user_id.startsWith(`batch-${run}-`))).toHaveLength(bodies.length);
      await store.flush();
      for (const body of bodies) expectAccepted(await postWebhook(server.url, body), true);
    } finally {
      await server.close();
    }
  });

  it('refuses a clusterSlots that is not a whole number from 1 to 1024', () => {
    for (const clusterSlots of [0, -1, 1.5, 1025, Number.NaN]) {
      expect(() => new RedisWebhookStore({ client, clusterSlots })).toThrow(/clusterSlots/);
    }
  });

  it('refuses a groupCommit that is not a boolean', () => {
    for (const groupCommit of ['true', 1, null]) {
      expect(() => new RedisWebhookStore({ client, groupCommit: groupCommit as unknown as boolean })).toThrow(/groupCommit/);
    }
  });
});

describe('done marks and claims keep their order on a Redis that has not seen the scripts yet', () => {
  it('a copy claimed right after its mark was sent reads as done, even when the first script call is answered NOSCRIPT', async () => {
    // A fresh server: no script is cached, so the first EVALSHA of each script is refused and re-sent as EVAL.
    const server = await startRedisServer();
    const client = await connectRedis({ port: server.port });
    try {
      const prefix = randomPrefix('webhooks-order');
      const store = new RedisWebhookStore({ client, prefix, doneMarkDelayMs: 10_000 });
      const first = await store.claim('delivery-a');
      expect(first.state).toBe('claimed');
      // The mark waits; then it is flushed and, in the same turn, a copy is claimed. Had the marks
      // their own script, its NOSCRIPT round trip would let the copy's claim run first (409).
      const completed = store.complete('delivery-a', (first as { token: string }).token);
      const flushed = store.flush();
      const copy = await store.claim('delivery-a');
      await Promise.all([completed, flushed]);
      expect(copy).toEqual({ state: 'done' });
      expect(await client.script('EXISTS', CLAIM_BATCH.sha)).toEqual([1]);
    } finally {
      client.disconnect();
      await server.destroy();
    }
  });
});

describe('claims that arrive while a script is in flight', () => {
  let proxy: TcpProxy;
  let viaProxy: Redis;
  let direct: Redis;
  let monitor: Redis;
  const prefix = randomPrefix('webhooks-inflight');
  const sent: string[] = [];

  beforeAll(async () => {
    proxy = await startTcpProxy(SHARED_REDIS);
    viaProxy = await connectRedis({ host: proxy.host, port: proxy.port });
    await viaProxy.script('LOAD', CLAIM_BATCH.lua);
    direct = await connectRedis();
    monitor = await direct.monitor();
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      if (source !== 'lua' && args.some((a) => typeof a === 'string' && a.startsWith(prefix))) sent.push(String(args[0]).toLowerCase());
    });
  });
  afterAll(async () => {
    monitor.disconnect();
    viaProxy.disconnect();
    await proxy.close();
    await deletePrefix(direct, prefix);
    direct.disconnect();
  });

  /** One claim, then three more, each in its own turn of the event loop, while the first is unanswered. */
  async function claimFourWhileSlow(store: RedisWebhookStore, name: string): Promise<{ first: Promise<unknown>; later: Promise<unknown>[]; answered: () => boolean }> {
    let firstAnswered = false;
    const first = store.claim(`${name}-0`).then((claim) => {
      firstAnswered = true;
      return claim;
    });
    await new Promise((resolve) => setImmediate(resolve));
    const later: Promise<unknown>[] = [];
    for (let i = 1; i <= 3; i++) {
      later.push(store.claim(`${name}-${i}`));
      await new Promise((resolve) => setImmediate(resolve));
    }
    return { first, later, answered: () => firstAnswered };
  }

  it('go at once by default, each turn in its own script, without waiting for the answer in flight', async () => {
    sent.length = 0;
    const store = new RedisWebhookStore({ client: viaProxy, prefix, doneMarkDelayMs: 10_000 });
    proxy.delay(300);
    try {
      const { first, later, answered } = await claimFourWhileSlow(store, 'at-once');
      // Four scripts reach Redis while the first answer is still on its way back.
      await eventually(async () => expect(sent).toEqual(['evalsha', 'evalsha', 'evalsha', 'evalsha']), 5000);
      expect(answered()).toBe(false);
      expect(await first).toMatchObject({ state: 'claimed' });
      for (const claim of await Promise.all(later)) expect(claim).toMatchObject({ state: 'claimed' });
    } finally {
      proxy.delay(0);
    }
  });

  it('with groupCommit, go together in the next script, without waiting for a slow answer', async () => {
    sent.length = 0;
    const store = new RedisWebhookStore({ client: viaProxy, prefix, doneMarkDelayMs: 10_000, groupCommit: true });
    // Every chunk takes 300 ms each way: the first script is unanswered for 600 ms.
    proxy.delay(300);
    try {
      const { first, later, answered } = await claimFourWhileSlow(store, 'grouped');
      // Both scripts reach Redis while the first answer is still on its way back: the later claims
      // were sent after a short wait, not after the first round trip.
      await eventually(async () => expect(sent).toEqual(['evalsha', 'evalsha']), 5000);
      expect(answered()).toBe(false);
      expect(await first).toMatchObject({ state: 'claimed' });
      for (const claim of await Promise.all(later)) expect(claim).toMatchObject({ state: 'claimed' });
      expect(sent).toEqual(['evalsha', 'evalsha']);
    } finally {
      proxy.delay(0);
    }
  });
});
