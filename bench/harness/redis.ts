import { Cluster, Redis } from 'ioredis';

/** The real Redis the benchmarks use; `BENCH_REDIS_URL` overrides it (loopback only). */
export const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * With `--cluster`, the runner starts a local 3-master Redis Cluster and hands its nodes to every
 * process (the runner's own connection and the servers it forks) in this variable.
 */
export const CLUSTER_ENV = 'BENCH_REDIS_CLUSTER';

export function clusterNodes(): { host: string; port: number }[] | undefined {
  const raw = process.env[CLUSTER_ENV];
  if (!raw) return undefined;
  const nodes = JSON.parse(raw) as { host: string; port: number }[];
  if (nodes.some((n) => n.host !== '127.0.0.1')) throw new Error(`${CLUSTER_ENV} must name loopback nodes only`);
  return nodes;
}

/** What the bench connects to: a single Redis or the cluster's nodes. */
export function redisTarget(): string {
  const nodes = clusterNodes();
  return nodes ? `Redis Cluster of ${nodes.length} masters (${nodes.map((n) => `${n.host}:${n.port}`).join(', ')})` : REDIS_URL;
}

/**
 * A client configured as the README recommends for request paths: no offline queue, one retry,
 * a command timeout. Counts the commands it sends (by name), to cross-check INFO commandstats.
 */
export interface CountingRedis {
  client: Redis | Cluster;
  /** Commands sent since the client was created, by lower-case name. */
  sent(): Record<string, number>;
  close(): Promise<void>;
}

export async function connectRedis(name: string): Promise<CountingRedis> {
  // An experiment switch: ioredis batches the commands of concurrent requests into one write.
  const enableAutoPipelining = process.env.BENCH_REDIS_AUTOPIPELINING === '1';
  const nodes = clusterNodes();
  let client: Redis | Cluster;
  if (nodes) {
    client = new Cluster(nodes, {
      enableOfflineQueue: false,
      lazyConnect: true,
      enableAutoPipelining,
      redisOptions: { connectionName: name, maxRetriesPerRequest: 1, commandTimeout: 5000 },
    });
  } else {
    const url = new URL(REDIS_URL);
    if (!['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)) throw new Error(`BENCH_REDIS_URL must be a loopback address, got ${url.hostname}`);
    client = new Redis(REDIS_URL, { connectionName: name, enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 5000, lazyConnect: true, enableAutoPipelining });
  }
  client.on('error', () => undefined);
  await client.connect();
  const counts: Record<string, number> = {};
  const target = client as unknown as { sendCommand: (command: { name: string }, ...rest: unknown[]) => unknown };
  const original = target.sendCommand.bind(client);
  target.sendCommand = (command, ...rest) => {
    counts[command.name] = (counts[command.name] ?? 0) + 1;
    return original(command, ...rest);
  };
  return {
    client,
    sent: () => ({ ...counts }),
    close: async () => {
      await client.quit().catch(() => client.disconnect());
    },
  };
}

/** `INFO commandstats` as calls per command (server-wide: every client counts; on a cluster, summed over the masters). */
export async function commandStats(client: Redis | Cluster): Promise<Record<string, number>> {
  const texts = client instanceof Cluster ? await Promise.all(client.nodes('master').map((node) => node.info('commandstats'))) : [await client.info('commandstats')];
  const calls: Record<string, number> = {};
  for (const text of texts) {
    for (const match of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls[match[1] as string] = (calls[match[1] as string] ?? 0) + Number(match[2]);
  }
  return calls;
}

/** after - before, per command, leaving out zeros. */
export function delta(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, value] of Object.entries(after)) {
    const d = value - (before[name] ?? 0);
    if (d !== 0) out[name] = d;
  }
  return out;
}

/** Deletes every key under a prefix (SCAN + UNLINK), so runs leave nothing behind. */
export async function deleteByPrefix(client: Redis | Cluster, prefix: string): Promise<number> {
  if (!prefix.startsWith('bench:')) throw new Error(`refusing to delete keys outside bench:*: ${prefix}`);
  if (client instanceof Cluster) {
    // One key per UNLINK: keys of different slots cannot share a command.
    let deleted = 0;
    for (const node of client.nodes('master')) {
      for (const key of await node.keys(`${prefix}*`)) deleted += await client.unlink(key);
    }
    return deleted;
  }
  let cursor = '0';
  let deleted = 0;
  for (let i = 0; i < 100_000; i++) {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    if (keys.length > 0) deleted += await client.unlink(...keys);
    cursor = next;
    if (cursor === '0') break;
  }
  return deleted;
}
