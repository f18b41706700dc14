import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Cluster, Redis, type ClusterOptions } from 'ioredis';
import { freePort } from './redis';

const run = promisify(execFile);

/** A throw-away 3-master Redis Cluster on loopback ports. */
export interface LocalCluster {
  readonly nodes: { host: string; port: number }[];
  /** A `Cluster` client with an error listener (never crashes the test process). */
  connect(options?: ClusterOptions): Promise<Cluster>;
  /** Kills the servers and removes their files. */
  destroy(): Promise<void>;
}

/**
 * Starts three `redis-server --cluster-enabled yes` children, joins them with
 * `redis-cli --cluster create` (no replicas) and waits for `cluster_state:ok` on every node.
 */
export async function startLocalCluster(): Promise<LocalCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'pfi-cluster-'));
  const ports: number[] = [];
  const children: ChildProcess[] = [];
  const destroy = async (): Promise<void> => {
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGKILL');
          }),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    while (ports.length < 3) {
      const port = await freePort();
      // The cluster bus uses port + 10000: it must be free too.
      if (port + 10000 < 65536 && !ports.includes(port)) ports.push(port);
    }
    for (const port of ports) {
      children.push(
        spawn(
          'redis-server',
          [
            '--port', String(port),
            '--bind', '127.0.0.1',
            '--cluster-enabled', 'yes',
            '--cluster-config-file', join(dir, `nodes-${port}.conf`),
            '--cluster-node-timeout', '2000',
            '--dir', dir,
            '--save', '',
            '--appendonly', 'no',
            '--daemonize', 'no',
          ],
          { stdio: 'ignore' },
        ),
      );
    }
    for (const port of ports) await waitFor(async () => (await ask(port, 'ping')) === 'PONG', `node ${port} to answer`);
    await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes']);
    for (const port of ports) {
      await waitFor(async () => String(await ask(port, 'cluster', 'info')).includes('cluster_state:ok'), `node ${port} to reach cluster_state:ok`);
    }
  } catch (err) {
    await destroy();
    throw err;
  }
  const nodes = ports.map((port) => ({ host: '127.0.0.1', port }));
  return {
    nodes,
    async connect(options: ClusterOptions = {}) {
      const cluster = new Cluster(nodes, {
        enableOfflineQueue: true,
        redisOptions: { commandTimeout: 2000, maxRetriesPerRequest: 1 },
        ...options,
      });
      cluster.on('error', () => undefined);
      await waitFor(async () => cluster.status === 'ready', 'the cluster client to be ready');
      return cluster;
    },
    destroy,
  };
}

async function ask(port: number, ...args: string[]): Promise<unknown> {
  const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true, enableOfflineQueue: false, retryStrategy: () => null, maxRetriesPerRequest: 0, disconnectTimeout: 10 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await client.call(args[0] as string, args.slice(1));
  } catch {
    return undefined;
  } finally {
    client.disconnect();
  }
}

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
