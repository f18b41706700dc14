import { createHash, randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import { Redis } from 'ioredis';
import request from 'supertest';
import { createApp } from '../example-app/app';
import { loadConfig } from '../example-app/config';
import { KycFeed } from '../example-app/kyc-feed';
import { SessionStreams } from '../example-app/streams';
import { startSandbox, type Sandbox } from '../lib/sandbox';
import { callbackPathOf } from './helpers/app';
import { eventually } from './helpers/eventually';
import { startRedisServer } from './helpers/redis';

/** Issue 14 items 9-11 and 16, over HTTP against the example app. */

let sandbox: Sandbox;
const BASE_URL = 'http://127.0.0.1:3997';
const SESSION_SECRET = randomBytes(24).toString('hex');
const closers: (() => unknown)[] = [];
beforeAll(async () => {
  sandbox = await startSandbox();
});
afterAll(async () => {
  for (const close of closers.reverse()) await close();
  await sandbox.close();
});

function build(options: { redis?: Redis; kycFeed?: KycFeed; lines?: string[] } = {}) {
  const config = loadConfig({ BASE_URL, SESSION_SECRET });
  const { clientID, clientSecret } = sandbox.registerClient({ redirectUris: [`${BASE_URL}/auth/fractal/callback`] });
  const sessionStreams = new SessionStreams(options.redis ? { redis: options.redis } : {});
  const kycFeed = options.kycFeed ?? new KycFeed(options.redis);
  closers.push(() => sessionStreams.close(), () => kycFeed.close());
  const app = createApp({
    config,
    clientID,
    clientSecret,
    domains: sandbox.domains,
    kycFeed,
    sessionStreams,
    log: (line) => options.lines?.push(line),
    ...(options.redis ? { redis: options.redis } : {}),
  });
  return { app, sessionStreams };
}

async function listen(app: express.Express): Promise<string> {
  const server: Server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  closers.push(() => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(resolve));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const cookieOf = (res: Response | globalThis.Response): string => {
  const header = (res as globalThis.Response).headers.getSetCookie?.() ?? [];
  return (header.find((c) => c.startsWith('fractal.sid=')) ?? '').split(';')[0] as string;
};

/** A full sign-in with fetch; resolves to the session cookie. */
async function signIn(url: string): Promise<string> {
  const start = await fetch(`${url}/auth/fractal`, { redirect: 'manual', headers: { accept: 'text/html' } });
  const location = await sandbox.authorize(start.headers.get('location') as string, {});
  const done = await fetch(`${url}${callbackPathOf(location)}`, { redirect: 'manual', headers: { accept: 'text/html', cookie: cookieOf(start) } });
  expect(done.status).toBe(302);
  return cookieOf(done);
}

/** Opens /profile/events; `ended` resolves when the server ends the stream. */
async function openStream(url: string, cookie: string): Promise<{ status: number; ended: Promise<void>; abort(): void }> {
  const controller = new AbortController();
  const res = await fetch(`${url}/profile/events`, { headers: { cookie }, signal: controller.signal });
  const ended = (async () => {
    if (res.status !== 200 || !res.body) return;
    const reader = res.body.getReader();
    try {
      while (!(await reader.read()).done) {
        // keep reading until the server ends the stream
      }
    } catch {
      // aborted by the test
    }
  })();
  return { status: res.status, ended, abort: () => controller.abort() };
}

const within = <T>(ms: number, promise: Promise<T>) =>
  Promise.race([promise.then(() => 'ended'), new Promise((resolve) => setTimeout(() => resolve('still open'), ms))]);

describe('headers (item 10)', () => {
  let app: express.Express;
  beforeAll(() => {
    ({ app } = build());
  });

  it('HTML pages send nosniff and a CSP with frame-ancestors none, the frontend as frame-src, and the hash of each inline script', async () => {
    const res = await request(app).get('/auth/fractal/callback?code=x&state=forged').set('accept', 'text/html');
    expect(res.headers['content-type']).toMatch(/html/);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    const csp = String(res.headers['content-security-policy']);
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain(`frame-src 'self' ${new URL(sandbox.domains.frontend).origin}`);
    expect(csp).toContain("object-src 'none'");
    const inline = [...res.text.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1] as string);
    expect(inline.length).toBeGreaterThan(0);
    for (const script of inline) expect(csp).toContain(`'sha256-${createHash('sha256').update(script).digest('base64')}'`);
    expect(csp).not.toContain('unsafe-inline');
    const home = await request(app).get('/');
    expect(home.headers['content-security-policy']).toMatch(/frame-ancestors 'none'/);
    expect(home.headers['x-content-type-options']).toBe('nosniff');
  });

  it.each(['/profile', '/api/me'])('%s sends Cache-Control: no-store, signed in or not', async (path) => {
    expect((await request(app).get(path)).headers['cache-control']).toBe('no-store');
  });
});

describe('POST /logout and foreign origins (item 10)', () => {
  let url: string;
  beforeAll(async () => {
    url = await listen(build().app);
  });
  const signedIn = async (cookie: string) => (await fetch(`${url}/api/me`, { headers: { cookie, accept: 'application/json' } })).status === 200;

  it.each([
    ['another port', { origin: 'http://127.0.0.1:3996' }],
    ['another host', { origin: 'http://attacker.example' }],
    ['an opaque origin', { origin: 'null' }],
    ['a cross-site fetch without Origin', { 'sec-fetch-site': 'cross-site' }],
  ])('is refused with 403 from %s, and the session survives', async (_name, headers) => {
    const cookie = await signIn(url);
    const res = await fetch(`${url}/logout`, { method: 'POST', redirect: 'manual', headers: { cookie, ...headers } });
    expect(res.status).toBe(403);
    expect(await signedIn(cookie)).toBe(true);
  });

  it.each([
    ['with its own Origin', { origin: BASE_URL, 'content-type': 'application/x-www-form-urlencoded' }],
    ['without Origin (no browser)', {}],
  ])('a same-origin form post without a token still logs out (%s)', async (_name, headers) => {
    const cookie = await signIn(url);
    const res = await fetch(`${url}/logout`, { method: 'POST', redirect: 'manual', headers: { cookie, ...headers }, body: '' });
    expect(res.status).toBe(303);
    expect(await signedIn(cookie)).toBe(false);
  });
});

describe('/profile/events (item 9)', () => {
  it('caps streams per user at 5: the sixth gets 429, and a closed one frees its place', async () => {
    const url = await listen(build().app);
    const cookie = await signIn(url);
    const open = [];
    for (let i = 0; i < 5; i++) open.push(await openStream(url, cookie));
    expect(open.map((s) => s.status)).toEqual([200, 200, 200, 200, 200]);
    const extra = await openStream(url, cookie);
    expect(extra.status).toBe(429);
    // Another session of the same user (the sandbox signs in the same person) counts too.
    expect((await openStream(url, await signIn(url))).status).toBe(429);
    open[0]?.abort();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const again = await openStream(url, cookie);
    expect(again.status).toBe(200);
    for (const s of [...open, again]) s.abort();
  });

  it('ends the session streams within 2 s of its logout, and only those', async () => {
    const url = await listen(build().app);
    const cookie = await signIn(url);
    const other = await openStream(url, await signIn(url));
    const mine = await openStream(url, cookie);
    expect(mine.status).toBe(200);
    await fetch(`${url}/logout`, { method: 'POST', redirect: 'manual', headers: { cookie } });
    expect(await within(2000, mine.ended)).toBe('ended');
    expect(await within(300, other.ended)).toBe('still open');
    other.abort();
  });

  it('ends them when a revoked grant signs the session out (reauthentication_required)', async () => {
    const url = await listen(build().app);
    const cookie = await signIn(url);
    const stream = await openStream(url, cookie);
    expect(stream.status).toBe(200);
    const me = await fetch(`${url}/api/me`, { headers: { cookie, accept: 'application/json' } });
    const { uid } = (await me.json()) as { uid: string };
    sandbox.revokeGrant(uid);
    expect((await fetch(`${url}/api/me`, { headers: { cookie, accept: 'application/json' } })).status).toBe(401);
    expect(await within(2000, stream.ended)).toBe('ended');
  });

  it('ends them when the logout happens in another process (Redis pub/sub)', async () => {
    const prefix = `test:${randomBytes(6).toString('hex')}:`;
    const connect = () => new Redis({ host: '127.0.0.1', port: 6379, keyPrefix: prefix, maxRetriesPerRequest: 1 });
    const [redisA, redisB] = [connect(), connect()];
    closers.push(async () => {
      const keys = await redisA.keys(`${prefix}*`);
      if (keys.length) await redisA.del(...keys.map((k) => k.slice(prefix.length)));
      redisA.disconnect();
      redisB.disconnect();
    });
    const a = await listen(build({ redis: redisA }).app);
    const b = build({ redis: redisB });
    const bURL = await listen(b.app);
    const cookie = await signIn(a);
    const stream = await openStream(bURL, cookie);
    expect(stream.status).toBe(200);
    await b.sessionStreams.ready();
    expect((await fetch(`${a}/logout`, { method: 'POST', redirect: 'manual', headers: { cookie } })).status).toBe(303);
    expect(await within(2000, stream.ended)).toBe('ended');
  });
});

describe('error handler (item 11)', () => {
  it('passes an error raised after the response started on to Express instead of answering again', async () => {
    /** A feed whose subscription fails, which /profile/events only learns after its headers went out. */
    class BrokenFeed extends KycFeed {
      override subscribe(): ReturnType<KycFeed['subscribe']> {
        throw new Error('feed unavailable');
      }
    }
    const { app } = build({ kycFeed: new BrokenFeed() });
    const seen: unknown[] = [];
    // A mounted app hands what it does not handle to its parent: that is where Express's default goes.
    const outer = express();
    outer.use(app);
    outer.use((err: unknown, _req: Request, res: Response, next: NextFunction) => {
      seen.push(err);
      next(err);
      void res;
    });
    const url = await listen(outer);
    const cookie = await signIn(url);
    const res = await fetch(`${url}/profile/events`, { headers: { cookie } }).catch((e: unknown) => e);
    await (res as globalThis.Response).body?.cancel().catch(() => undefined);
    // express-session defers the chain after the response started; wait for it.
    await eventually(async () => expect(seen).toHaveLength(1), 5000);
    expect((seen[0] as Error).message).toBe('feed unavailable');
    expect((seen[0] as { code?: string }).code).not.toBe('ERR_HTTP_HEADERS_SENT');
  });
});

describe('start-up check of Redis settings (item 16)', () => {
  it('logs what an evicting, non-persistent Redis puts at risk', async () => {
    const server = await startRedisServer({ args: ['--maxmemory-policy', 'allkeys-lru'] });
    const redis = new Redis({ host: '127.0.0.1', port: server.port, maxRetriesPerRequest: 1 });
    closers.push(async () => {
      redis.disconnect();
      await server.destroy();
    });
    const lines: string[] = [];
    build({ redis, lines });
    const vaultLines = await eventually(async () => {
      const found = lines.filter((l) => l.startsWith('Token vault'));
      expect(found.length).toBeGreaterThanOrEqual(2);
      return found;
    }, 5000);
    expect(vaultLines.some((l) => l.includes('eviction_policy') && l.includes('allkeys-lru'))).toBe(true);
    expect(vaultLines.some((l) => l.includes('no_persistence'))).toBe(true);
  });
});
