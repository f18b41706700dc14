import { Redis } from 'ioredis';

/** The real Redis the benchmarks use; `BENCH_REDIS_URL` overrides it (loopback only). */
export const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * A client configured as the README recommends for request paths: no offline queue, one retry,
 * a command timeout. Counts the commands it sends (by name), to cross-check INFO commandstats.
 */
export interface CountingRedis {
  client: Redis;
  /** Commands sent since the client was created, by lower-case name. */
  sent(): Record<string, number>;
  close(): Promise<void>;
}

export async function connectRedis(name: string): Promise<CountingRedis> {
  const url = new URL(REDIS_URL);
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)) throw new Error(`BENCH_REDIS_URL must be a loopback address, got ${url.hostname}`);
  const client = new Redis(REDIS_URL, {
    connectionName: name,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 5000,
    lazyConnect: true,
    // An experiment switch: ioredis batches the commands of concurrent requests into one write.
    enableAutoPipelining: process.env.BENCH_REDIS_AUTOPIPELINING === '1',
  });
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

/** `INFO commandstats` as calls per command (server-wide: every client of this Redis counts). */
export async function commandStats(client: Redis): Promise<Record<string, number>> {
  const text = await client.info('commandstats');
  const calls: Record<string, number> = {};
  for (const match of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls[match[1] as string] = Number(match[2]);
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
export async function deleteByPrefix(client: Redis, prefix: string): Promise<number> {
  if (!prefix.startsWith('bench:')) throw new Error(`refusing to delete keys outside bench:*: ${prefix}`);
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
