import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';

/** The machine's shared Redis. Tests isolate themselves with a random key prefix and clean up. */
export const SHARED_REDIS = { host: '127.0.0.1', port: 6379 };

/** Options we recommend for request paths (README, "Multi-process deployments"). */
export const REQUEST_PATH_OPTIONS: RedisOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  commandTimeout: 1000,
  // Reconnect quickly in tests; production keeps ioredis' default backoff.
  retryStrategy: () => 100,
};

/** A random prefix per test file, so parallel test files and other engineers never collide. */
export function randomPrefix(label = 'test'): string {
  return `pfi-${label}-${randomBytes(6).toString('hex')}:`;
}

/** A client that never crashes the test process on connection errors, and is ready when returned. */
export async function connectRedis(options: RedisOptions = {}): Promise<Redis> {
  const client = new Redis({ ...SHARED_REDIS, ...REQUEST_PATH_OPTIONS, lazyConnect: true, ...options });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/** Deletes every key under `prefix` (SCAN, never KEYS). */
export async function deletePrefix(client: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) await client.del(...keys);
  } while (cursor !== '0');
}

/** An unused TCP port on loopback (bind to 0, read it, release it). */
export function freePort(): Promise<number> {
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

/** A private redis-server child process, for tests that stop or restart Redis. */
export interface RedisServer {
  readonly port: number;
  readonly dir: string;
  /** SIGKILL: the process is gone, connections are refused. Keeps the data dir. */
  kill(): Promise<void>;
  /** Starts again on the same port and data dir (an AOF restores data when `persist` was set). */
  start(): Promise<void>;
  /** SIGSTOP / SIGCONT: Redis stops answering without closing connections. */
  pause(): void;
  resume(): void;
  /** Kills the process and removes the data dir. */
  destroy(): Promise<void>;
}

export interface RedisServerOptions {
  /** Write an append-only file fsynced on every write, so a kill + restart loses nothing. */
  persist?: boolean;
  /** Extra `redis-server` arguments. */
  args?: string[];
  port?: number;
  dir?: string;
}

export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const port = options.port ?? (await freePort());
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'pfi-redis-'));
  const args = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--dir', dir,
    '--save', '',
    '--daemonize', 'no',
    '--protected-mode', 'yes',
    ...(options.persist ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']),
    ...(options.args ?? []),
  ];
  let child: ChildProcess | undefined;

  const start = async (): Promise<void> => {
    const proc = spawn('redis-server', args, { stdio: 'ignore' });
    child = proc;
    await waitForPing(port, proc);
  };
  const kill = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      proc.once('exit', () => resolve());
      proc.kill('SIGKILL');
    });
  };
  await start();
  return {
    port,
    dir,
    kill,
    start,
    pause: () => child?.kill('SIGSTOP'),
    resume: () => child?.kill('SIGCONT'),
    destroy: async () => {
      child?.kill('SIGCONT');
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function waitForPing(port: number, proc: ChildProcess): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`redis-server on port ${port} exited with ${proc.exitCode}`);
    const probe = new Redis({ host: '127.0.0.1', port, lazyConnect: true, enableOfflineQueue: false, retryStrategy: () => null, maxRetriesPerRequest: 0, disconnectTimeout: 10 });
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      if ((await probe.ping()) === 'PONG') return;
    } catch {
      if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer PING within 10 s`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      probe.disconnect();
    }
  }
}
