import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';

const run = promisify(execFile);

/** A throw-away 3-master Redis Cluster on loopback ports, built like test/helpers/cluster.ts builds it. */
export interface BenchCluster {
  readonly nodes: { host: string; port: number }[];
  destroy(): Promise<void>;
}

/**
 * `npm run bench -- --cluster`: three `redis-server --cluster-enabled yes` children on 127.0.0.1,
 * joined by `redis-cli --cluster create` (no replicas), ready once every node says
 * `cluster_state:ok`. Nothing is persisted; `destroy()` kills them and removes their directory.
 */
export async function startBenchCluster(): Promise<BenchCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'pfi-bench-cluster-'));
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
      const args = ['--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`)];
      args.push('--cluster-node-timeout', '2000', '--dir', dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no');
      children.push(spawn('redis-server', args, { stdio: 'ignore' }));
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
  return { nodes: ports.map((port) => ({ host: '127.0.0.1', port })), destroy };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function ask(port: number, ...args: string[]): Promise<unknown> {
  const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true, enableOfflineQueue: false, retryStrategy: () => null, maxRetriesPerRequest: 0 });
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
