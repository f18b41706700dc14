import type { Cluster, Redis } from 'ioredis';
import { ErrorCode } from '../lib/errors';
import { createFractalVault, generateEncryptionKey, RedisTokenStore } from '../lib/tokens';
import { startLocalCluster, type LocalCluster } from './helpers/cluster';
import { connectRedis, randomPrefix } from './helpers/redis';
import { SET } from '../lib/tokens/redis-scripts';
import { describeTokenStoreContract } from './helpers/vault-store-contract';
import { expired, startVaultSandbox, type VaultSandbox } from './helpers/vault-sandbox';
import { forkVaultWorker, stormForOneRefresh } from './helpers/vault-workers';
import { eventually } from './helpers/eventually';

jest.setTimeout(90_000);

// One cluster for the whole file, started on first use.
let clusterPromise: Promise<LocalCluster> | undefined;
const localCluster = () => (clusterPromise ??= startLocalCluster());
afterAll(async () => {
  if (clusterPromise) await (await clusterPromise).destroy();
});

describeTokenStoreContract('RedisTokenStore on a 3-master Redis Cluster', async () => {
  const cluster = await (await localCluster()).connect();
  return {
    store: new RedisTokenStore({ client: cluster, prefix: randomPrefix('cluster-contract'), pollIntervalMs: 1000 }),
    cleanup: async () => cluster.disconnect(),
  };
});

describe('token vault on a 3-master Redis Cluster', () => {
  let nodes: LocalCluster;
  let cluster: Cluster;
  let env: VaultSandbox;
  let store: RedisTokenStore;
  const prefix = randomPrefix('cluster-vault');
  const encryptionKeys = [generateEncryptionKey()];
  const vault = () => createFractalVault({ store, encryptionKeys, ...env.client, domains: env.sandbox.domains });

  beforeAll(async () => {
    nodes = await localCluster();
    cluster = await nodes.connect();
    store = new RedisTokenStore({ client: cluster, prefix });
    env = await startVaultSandbox();
  });
  afterAll(async () => {
    await store.close();
    cluster.disconnect();
    await env.close();
  });
  beforeEach(() => env.sandbox.resetCounts());

  test("each user's record and lock share one slot, and users spread over all three masters", async () => {
    const ranges = (await cluster.call('cluster', ['slots'])) as [number, number, [string, number]][];
    const masterOf = (slot: number) => ranges.find(([from, to]) => slot >= from && slot <= to)?.[2][1];
    const masters = new Set<number | undefined>();
    for (let i = 0; i < 30; i++) {
      const { tokens, lock } = store.keysFor(`user-${i}`);
      const [a, b] = await Promise.all([cluster.call('cluster', ['keyslot', tokens]), cluster.call('cluster', ['keyslot', lock])]);
      expect(a).toBe(b);
      masters.add(masterOf(Number(a)));
    }
    expect([...masters].sort()).toEqual(nodes.nodes.map((n) => n.port).sort());
  });

  test('200 concurrent getAccessToken() calls in 4 processes through the Cluster client: exactly 1 refresh, one token', async () => {
    const { uid, tokenSet } = await env.signIn();
    await vault().saveTokens(uid, expired(tokenSet));
    const workers = [0, 1, 2, 3].map(() =>
      forkVaultWorker({ cluster: nodes.nodes, prefix, encryptionKeys, ...env.client, domains: env.sandbox.domains }),
    );
    try {
      await stormForOneRefresh(workers, env, uid, tokenSet.accessToken);
      expect((await vault().fetchUser(uid)).uid).toBe(uid);
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
    }
  });

  test('token endpoint failing twice then succeeding: one successful refresh', async () => {
    const { uid, tokenSet } = await env.signIn();
    const v = createFractalVault({ store, encryptionKeys, ...env.client, domains: env.sandbox.domains, retry: { baseDelayMs: 10, maxDelayMs: 50 } });
    await v.saveTokens(uid, expired(tokenSet));
    env.sandbox.resetCounts();
    env.sandbox.injectFault('token', { kind: 'status', status: 500, times: 2 });
    const tokens = await Promise.all([v.getAccessToken(uid), vault().getAccessToken(uid), vault().getAccessToken(uid)]);
    expect(new Set(tokens).size).toBe(1);
    expect(env.sandbox.counts().token).toMatchObject({ refresh_token: 1, failed: 2 });
  });

  test('a revoked grant: ReauthenticationRequired, tokens deleted, no loop', async () => {
    const { uid, tokenSet } = await env.signIn();
    await vault().saveTokens(uid, expired(tokenSet));
    env.sandbox.revokeGrant(uid);
    env.sandbox.resetCounts();
    const results = await Promise.allSettled([vault().getAccessToken(uid), vault().getAccessToken(uid)]);
    for (const r of results) expect(r).toMatchObject({ status: 'rejected', reason: { code: ErrorCode.REAUTHENTICATION_REQUIRED } });
    expect(await store.get(uid)).toBeNull();
    expect(env.sandbox.counts().token).toMatchObject({ refresh_token: 0, failed: 1 });
  });

  test('key rotation works the same through the cluster', async () => {
    const oldKey = generateEncryptionKey();
    const newKey = generateEncryptionKey();
    const { uid, tokenSet } = await env.signIn();
    const before = createFractalVault({ store, encryptionKeys: [oldKey], ...env.client, domains: env.sandbox.domains });
    const after = createFractalVault({ store, encryptionKeys: [newKey, oldKey], ...env.client, domains: env.sandbox.domains });
    await before.saveTokens(uid, expired(tokenSet));
    await after.getAccessToken(uid);
    const stored = await store.get(uid);
    expect(after.keyring.keyIdOf(stored!.data)).toBe(after.keyring.currentKeyId);
  });
});

describe('RedisTokenStore cacheTtlMs on a 3-master Redis Cluster', () => {
  test('cached reads are served in process, and a write from another client reaches them through the notification', async () => {
    const nodes = await localCluster();
    const [mine, theirs] = [await nodes.connect(), await nodes.connect()];
    const prefix = randomPrefix('cluster-cache');
    const cached = new RedisTokenStore({ client: mine, prefix, cacheTtlMs: 60_000 });
    const writer = new RedisTokenStore({ client: theirs, prefix });
    try {
      const users = Array.from({ length: 6 }, (_, i) => `cluster-cache-user-${i}`);
      for (const id of users) {
        // Proof that the copy is in process: a change made without a notification stays unseen.
        const { tokens } = writer.keysFor(id);
        await eventually(async () => {
          await writer.set(id, 'v1', 60_000);
          await new Promise((resolve) => setTimeout(resolve, 50));
          await cached.get(id, { cached: true });
          await theirs.hset(tokens, 'd', 'silent');
          expect(await cached.get(id, { cached: true })).toMatchObject({ data: 'v1' });
        });
        await writer.set(id, 'v2', 60_000);
        await eventually(async () => expect(await cached.get(id, { cached: true })).toMatchObject({ data: 'v2' }));
      }
    } finally {
      await cached.close();
      await writer.close();
      mine.disconnect();
      theirs.disconnect();
    }
  });

  test('a change published while the notification connection is killed and replaced is not hidden by the cache for cacheTtlMs', async () => {
    const nodes = await localCluster();
    const [mine, theirs] = [await nodes.connect(), await nodes.connect()];
    const prefix = randomPrefix('cluster-move');
    const cached = new RedisTokenStore({ client: mine, prefix, cacheTtlMs: 60_000 });
    const writer = new RedisTokenStore({ client: theirs, prefix });
    const direct: Redis[] = [];
    const node = async (port: number) => {
      const client = await connectRedis({ port });
      direct.push(client);
      return client;
    };
    /** Waits until `id` is served from the cache: a change made without a notification stays unseen. */
    const warm = (id: string, data: string) =>
      eventually(async () => {
        await writer.set(id, data, 60_000);
        await new Promise((resolve) => setTimeout(resolve, 50));
        await cached.get(id, { cached: true });
        await theirs.hset(writer.keysFor(id).tokens, 'd', 'silent');
        expect(await cached.get(id, { cached: true })).toMatchObject({ data });
      });
    try {
      await warm('cluster-move-probe', 'v0');
      // The node the cache's pattern subscription lives on.
      let port: number | undefined;
      for (const n of nodes.nodes) {
        const list = String(await (await node(n.port)).call('client', ['list', 'type', 'pubsub']));
        if (/psub=[1-9]/.test(list)) port = n.port;
      }
      expect(port).toBeDefined();
      const host = await node(port as number);
      // A user whose record lives on that same node, so one MULTI can kill the subscriber and write.
      const ranges = (await theirs.call('cluster', ['slots'])) as [number, number, [string, number]][];
      let id = '';
      for (let i = 0; !id && i < 500; i++) {
        const slot = Number(await theirs.call('cluster', ['keyslot', writer.keysFor(`cluster-move-${i}`).tokens]));
        if (ranges.find(([from, to]) => slot >= from && slot <= to)?.[2][1] === port) id = `cluster-move-${i}`;
      }
      expect(id).not.toBe('');
      await warm(id, 'v1');
      const { tokens, backoff, channel } = writer.keysFor(id);
      // Another process's write whose notification is published while the cache's subscriber is
      // gone: ioredis's cluster subscriber would reconnect (maybe elsewhere) without a word.
      const replies = (await host.multi().call('client', 'kill', 'type', 'pubsub').eval(SET.lua, 2, tokens, backoff, 'v2', 60_000, channel).exec()) as [Error | null, unknown][];
      expect(replies.map(([err]) => err)).toEqual([null, null]);
      expect(Number(replies[0]?.[1])).toBeGreaterThan(0);
      await eventually(async () => expect(await cached.get(id, { cached: true })).toMatchObject({ data: 'v2' }), 5000);
      // Confirmed again on the new connection: the cache serves reads in process once more.
      await warm(id, 'v3');
    } finally {
      await cached.close();
      await writer.close();
      mine.disconnect();
      theirs.disconnect();
      for (const client of direct) client.disconnect();
    }
  });
});

describe('vault.check() on a 3-master Redis Cluster', () => {
  it('checks every master: persistence on two of three is still a warning, on all three none', async () => {
    const nodes = await localCluster();
    const cluster = await nodes.connect();
    const store = new RedisTokenStore({ client: cluster, prefix: randomPrefix('cluster-check') });
    const vault = createFractalVault({ store, encryptionKeys: generateEncryptionKey(), clientID: 'id', clientSecret: 'secret' });
    const masters = cluster.nodes('master');
    expect(masters).toHaveLength(3);
    try {
      expect((await vault.check()).warnings.map((w) => w.code)).toEqual(['no_persistence']);
      await masters[0]?.config('SET', 'appendonly', 'yes');
      await masters[1]?.config('SET', 'appendonly', 'yes');
      expect((await vault.check()).warnings.map((w) => w.code)).toEqual(['no_persistence']);
      await masters[2]?.config('SET', 'appendonly', 'yes');
      expect(await vault.check()).toEqual({ ok: true, warnings: [] });
    } finally {
      for (const node of masters) await node.config('SET', 'appendonly', 'no').catch(() => undefined);
      await store.close();
      cluster.disconnect();
    }
  });
});
