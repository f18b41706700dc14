import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Jest globalSetup: gives every test file a Redis through `REDIS_URL` (read by
 * test/helpers/redis.ts), so that `npm test` works on any machine:
 * `REDIS_URL` when set, else 127.0.0.1:6379 when it answers PING, else a private `redis-server` on a
 * free port when the binary is on PATH (stopped by the teardown), else one line saying what to install.
 */
const state = globalThis as { __pfiRedis?: { child: ChildProcess; dir: string } };

export default async function setup(): Promise<void> {
  if (process.env.REDIS_URL) return;
  if (await answersPing(6379)) {
    process.env.REDIS_URL = 'redis://127.0.0.1:6379';
    return;
  }
  if (spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).error) {
    console.error('\nTests need Redis: set REDIS_URL, run Redis on 127.0.0.1:6379, or install redis-server (Debian: apt-get install redis-server redis-tools).');
    process.exit(1);
  }
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'pfi-test-redis-'));
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  state.__pfiRedis = { child, dir };
  const deadline = Date.now() + 10_000;
  while (!(await answersPing(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      console.error(`\nredis-server on port ${port} did not start (exit code ${child.exitCode}).`);
      process.exit(1);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  process.env.REDIS_URL = `redis://127.0.0.1:${port}`;
}

export async function teardown(): Promise<void> {
  const started = state.__pfiRedis;
  if (!started) return;
  state.__pfiRedis = undefined;
  if (started.child.exitCode === null) {
    await new Promise<void>((resolve) => {
      started.child.once('exit', () => resolve());
      started.child.kill('SIGTERM');
    });
  }
  rmSync(started.dir, { recursive: true, force: true });
}

/** A raw RESP PING, so that the check needs no client library and never queues or retries. */
function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
  });
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
