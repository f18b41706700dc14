import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import request from 'supertest';
import { createApp } from '../example-app/app';
import { loadConfig } from '../example-app/config';
import { KycFeed } from '../example-app/kyc-feed';
import { startSandbox, type Sandbox } from '../lib/sandbox';
import { buildApp, callbackPathOf, newAgent, startSignIn } from './helpers/app';
import { connectRedis, deletePrefix, freePort } from './helpers/redis';

/**
 * Issue 14 items 2 and 14: a callback is consumed once, atomically, across concurrent requests and
 * processes; a signed-in browser replaying its used callback URL (back button) is sent to its page
 * without a second code exchange, while an unknown state for a signed-out browser stays a 4xx.
 */

const BASE_URL = 'http://127.0.0.1:3996';

let sandbox: Sandbox;
let redis: Redis;
let feed: KycFeed;
const prefix = `pfi-secstate-${randomBytes(6).toString('hex')}:`;

beforeAll(async () => {
  sandbox = await startSandbox();
  redis = await connectRedis({ keyPrefix: prefix });
  feed = new KycFeed(redis);
});
afterAll(async () => {
  feed.close();
  const cleaner = await connectRedis();
  await deletePrefix(cleaner, prefix);
  cleaner.disconnect();
  redis.disconnect();
  await sandbox.close();
});
beforeEach(() => sandbox.clearFaults());

/** Code exchanges that reached the sandbox's token endpoint, whatever their answer. */
function exchanges(): number {
  const { token } = sandbox.counts();
  return token.authorization_code + token.failed;
}

/** Two instances of the example app on one Redis and one client registration: two processes. */
function exampleApps(count: number) {
  // One token key too, as processes of one deployment share it.
  const config = loadConfig({ BASE_URL, SESSION_SECRET: 'y'.repeat(32), TOKEN_ENCRYPTION_KEY: randomBytes(32).toString('base64url') });
  const { clientID, clientSecret } = sandbox.registerClient({ redirectUris: [`${BASE_URL}/auth/fractal/callback`] });
  return Array.from({ length: count }, () => createApp({ config, clientID, clientSecret, domains: sandbox.domains, redis, kycFeed: feed, log: () => undefined }));
}

function cookieOf(res: request.Response): string {
  const cookie = (res.headers['set-cookie'] as unknown as string[] | undefined)?.find((c) => c.startsWith('fractal.sid='));
  if (!cookie) throw new Error('no session cookie');
  return cookie.split(';')[0]!;
}

describe('three concurrent deliveries of one callback URL with one cookie', () => {
  it('make exactly one code exchange (in-memory sessions, one process)', async () => {
    const { app } = buildApp(sandbox);
    const agent = newAgent(app);
    const callback = callbackPathOf(await sandbox.authorize(await startSignIn(agent)));
    const before = exchanges();
    const answers = await Promise.all([agent.get(callback), agent.get(callback), agent.get(callback)]);
    const made = exchanges() - before;
    console.log(`3 concurrent callbacks (memory sessions): ${made} code exchange(s)`);
    expect(made).toBe(1);
    expect(answers.filter((a) => a.status === 200 && a.body.outcome === 'success')).toHaveLength(1);
    const losers = answers.filter((a) => a.body.outcome !== 'success');
    expect(losers.map((a) => [a.status, a.body.code])).toEqual([
      [403, 'invalid_state'],
      [403, 'invalid_state'],
    ]);
  });

  it('make exactly one code exchange across two app processes sharing Redis (example app)', async () => {
    const [one, two] = exampleApps(2) as [ReturnType<typeof createApp>, ReturnType<typeof createApp>];
    const start = await request(one).get('/auth/fractal');
    const cookie = cookieOf(start);
    const callback = callbackPathOf(await sandbox.authorize(start.headers.location as string));
    const before = exchanges();
    const answers = await Promise.all([one, two, one].map((app) => request(app).get(callback).set('Cookie', cookie).set('accept', 'text/html')));
    const made = exchanges() - before;
    console.log(`3 concurrent callbacks (example app, 2 processes on Redis): ${made} code exchange(s)`);
    expect(made).toBe(1);
    const winners = answers.filter((a) => a.status === 302);
    expect(winners).toHaveLength(1);
    expect(winners[0]!.headers.location).toBe('/profile');
    expect(answers.filter((a) => a.status === 403)).toHaveLength(2);
    // The winner's cookie is signed in, on either process.
    const signedIn = cookieOf(winners[0]!);
    expect((await request(two).get('/api/me').set('Cookie', signedIn)).status).toBe(200);
  });
});

describe('a replayed callback URL (the back button)', () => {
  it('sends a signed-in browser to its page without a second code exchange', async () => {
    const { app } = buildApp(sandbox);
    const agent = newAgent(app);
    const callback = callbackPathOf(await sandbox.authorize(await startSignIn(agent, '/auth/fractal?returnTo=%2Fkyc%3Fstep%3D2')));
    const first = await agent.get(callback);
    expect(first.body.outcome).toBe('success');
    const before = exchanges();
    const replay = await agent.get(callback);
    expect(replay.status).toBe(302);
    expect(replay.headers.location).toBe('/kyc?step=2');
    expect(exchanges()).toBe(before);
    expect((await agent.get('/me')).body.user).toEqual(first.body.user);
  });

  it("sends the example app's signed-in browser to /profile", async () => {
    const [app] = exampleApps(1) as [ReturnType<typeof createApp>];
    const agent = request.agent(app);
    const start = await agent.get('/auth/fractal');
    const callback = callbackPathOf(await sandbox.authorize(start.headers.location as string));
    expect((await agent.get(callback)).headers.location).toBe('/profile');
    const before = exchanges();
    const replay = await agent.get(callback).set('accept', 'text/html');
    expect(replay.status).toBe(302);
    expect(replay.headers.location).toBe('/profile');
    expect(exchanges()).toBe(before);
  });

  it('stays a 403 for a signed-out browser, and for a signed-in browser with a state it never used', async () => {
    const { app } = buildApp(sandbox);
    const agent = newAgent(app);
    const location = new URL(await sandbox.authorize(await startSignIn(agent)));
    expect((await agent.get(callbackPathOf(location.href))).body.outcome).toBe('success');

    const stranger = await newAgent(app).get(callbackPathOf(location.href));
    expect(stranger.status).toBe(403);
    expect(stranger.body.code).toBe('invalid_state');

    location.searchParams.set('state', randomBytes(32).toString('base64url'));
    const forged = await agent.get(callbackPathOf(location.href));
    expect(forged.status).toBe(403);
    expect(forged.body.code).toBe('invalid_state');
  });
});

describe('the shared claim when Redis is down', () => {
  it('answers 503 store_unavailable without a code exchange and without the state in the message', async () => {
    const down = new Redis({ host: '127.0.0.1', port: await freePort(), lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    down.on('error', () => undefined);
    try {
      const { app } = buildApp(sandbox, { strategy: { callbackGuard: { client: down } } });
      const agent = newAgent(app);
      const location = new URL(await sandbox.authorize(await startSignIn(agent)));
      const before = exchanges();
      const res = await agent.get(callbackPathOf(location.href));
      expect(res.status).toBe(503);
      expect(res.body.code).toBe('store_unavailable');
      expect(res.body.message).not.toContain(location.searchParams.get('state'));
      expect(exchanges()).toBe(before);
    } finally {
      down.disconnect();
    }
  });
});
