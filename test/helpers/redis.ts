import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';

/**
 * The Redis every test file shares: `REDIS_URL`, which jest's globalSetup (test/setup/redis-global.ts)
 * always sets, found or started. Tests isolate themselves with a random key prefix and clean up.
 */
export const SHARED_REDIS = sharedRedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');

function sharedRedis(url: string): { host: string; port: number; password?: string; db?: number } {
  const parsed = new URL(url);
  const options: { host: string; port: number; password?: string; db?: number } = {
    host: parsed.hostname || '127.0.0.1',
    port: Number(parsed.port || 6379),
  };
  if (parsed.password) options.password = decodeURIComponent(parsed.password);
  const db = parsed.pathname.replace(/^\//, '');
  if (db !== '') options.db = Number(db);
  return options;
}

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

/**
 * Fills a private Redis started with `--maxmemory <small> --maxmemory-policy noeviction` until it
 * refuses writes with `OOM command not allowed when used memory > 'maxmemory'`; `free()` deletes
 * the filler again. Never point it at the shared Redis.
 */
export async function fillUntilOom(client: Redis, prefix: string): Promise<{ keys: number; free(): Promise<void> }> {
  const filler = `${prefix}filler:`;
  const value = 'x'.repeat(64 * 1024);
  let keys = 0;
  while (await acceptsWrite(() => client.set(`${filler}${keys}`, value))) {
    if (++keys > 10_000) throw new Error('Redis accepted 640 MB of filler without refusing a write: is maxmemory set?');
  }
  // Now just over the limit, but by less than the buffers Redis releases by itself (an idle
  // client's query buffer is freed after 2 s), which would let small writes through again. Go
  // about 1 MB over: SETRANGE at a far offset allocates much more than its own few bytes, and
  // is refused only while already over the limit, so make room for it one filler key at a time.
  while (!(await acceptsWrite(() => client.setrange(`${filler}overshoot`, 1024 * 1024, 'x')))) {
    if (keys === 0) throw new Error('Could not overshoot maxmemory');
    await client.del(`${filler}${--keys}`);
  }
  if (await acceptsWrite(() => client.set(`${filler}probe`, 'x'))) throw new Error('Redis is not full after filling it');
  // DEL is allowed while full (it frees memory), and SCAN needs none.
  return { keys, free: () => deletePrefix(client, filler) };
}

/** false when Redis refused the write for lack of memory; other errors are thrown. */
async function acceptsWrite(write: () => Promise<unknown>): Promise<boolean> {
  try {
    await write();
    return true;
  } catch (err) {
    if (err instanceof Error && err.message.startsWith('OOM')) return false;
    throw err;
  }
}

/** A private redis-server with 4 MB of `maxmemory` and `noeviction`, which tests fill on purpose. */
export interface SmallRedis {
  readonly port: number;
  /** A client of its own, for filling and inspecting. */
  readonly admin: Redis;
  /** Fills it until writes fail with OOM (see {@link fillUntilOom}); resolves to the filler keys written. */
  fill(): Promise<number>;
  /** Deletes the filler, if any: writes work again. */
  free(): Promise<void>;
  destroy(): Promise<void>;
}

export async function startSmallRedis(prefix: string): Promise<SmallRedis> {
  const server = await startRedisServer({ args: ['--maxmemory', '4mb', '--maxmemory-policy', 'noeviction'] });
  const admin = await connectRedis({ port: server.port });
  let filler: { keys: number; free(): Promise<void> } | undefined;
  return {
    port: server.port,
    admin,
    async fill() {
      filler = await fillUntilOom(admin, prefix);
      return filler.keys;
    },
    async free() {
      await filler?.free();
      filler = undefined;
    },
    async destroy() {
      admin.disconnect();
      await server.destroy();
    },
  };
}
