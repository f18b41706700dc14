import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Redis } from 'ioredis';
import type { Response } from 'supertest';

/** The guard sent a browser to sign in, keeping where it wanted to go. */
export function expectSignInRedirect(res: Response, returnTo?: string, status = 302): void {
  expect(res.status).toBe(status);
  expect(res.headers.location).toBe(returnTo === undefined ? '/auth/fractal' : `/auth/fractal?returnTo=${encodeURIComponent(returnTo)}`);
}

/** The guard answered an API client 401 with an RFC 6750 challenge. */
export function expectUnauthorizedJson(res: Response, error: string): void {
  expect(res.status).toBe(401);
  expect(res.headers['content-type']).toMatch(/application\/json/);
  expect(res.body).toEqual({ error, error_description: expect.any(String) });
  expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="fractal"/);
}

/** The guard answered 503 with a Retry-After header. */
export function expectStoreUnavailable(res: Response): void {
  expect(res.status).toBe(503);
  expect(res.headers['retry-after']).toMatch(/^\d+$/);
  if (res.headers['content-type']?.includes('json')) expect(res.body.error).toBe('store_unavailable');
}

/**
 * Records every command Redis receives that mentions `prefix`, through `redis-cli monitor` (a
 * separate process, independent of the client under test): proof, at the server, of what a
 * request cost.
 */
export async function monitorPrefix(redis: Redis, prefix: string): Promise<{ commands: string[][]; settle(): Promise<void>; stop(): void }> {
  const { host, port, password } = redis.options as { host?: string; port?: number; password?: string };
  const auth = password ? ['-a', password, '--no-auth-warning'] : [];
  const child = spawn('redis-cli', ['-h', host ?? '127.0.0.1', '-p', String(port ?? 6379), ...auth, 'monitor'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const commands: string[][] = [];
  const barriers = new Map<string, () => void>();
  let started: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (started = resolve));
  createInterface({ input: child.stdout }).on('line', (line) => {
    if (line === 'OK') return started();
    if (!line.includes(prefix)) return;
    const args = [...line.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1] as string);
    const marker = args.find((a) => barriers.has(a));
    if (marker) barriers.get(marker)?.();
    else commands.push(args);
  });
  await ready;
  return {
    commands,
    // MONITOR output is asynchronous: send a marker command and wait until it comes back.
    async settle() {
      const marker = `${prefix}barrier-${Math.random()}`;
      const seen = new Promise<void>((resolve) => barriers.set(marker, resolve));
      await redis.exists(marker);
      await seen;
      barriers.delete(marker);
    },
    stop: () => child.kill(),
  };
}
