import type { Redis } from 'ioredis';
import request from 'supertest';
import { createApp } from '../example-app/app';
import { loadConfig } from '../example-app/config';
import { KycFeed } from '../example-app/kyc-feed';
import { startSandbox, type Sandbox } from '../lib/sandbox';
import { connectRedis, randomPrefix, startSmallRedis, type SmallRedis } from './helpers/redis';

/**
 * A sign-in must not send the browser to Fractal ID with a state nobody kept. express-session
 * saves on `res.end` and still sends the 302 when that save fails, so a Redis blip (found by
 * `npm run soak`) brought the user back to `invalid_state`. The state store saves first.
 */

const BASE_URL = 'http://127.0.0.1:3996';
const prefix = randomPrefix('state-save');

let sandbox: Sandbox;
let small: SmallRedis;
let redis: Redis;
let feed: KycFeed;

beforeAll(async () => {
  sandbox = await startSandbox();
  small = await startSmallRedis(prefix);
  redis = await connectRedis({ port: small.port, keyPrefix: prefix });
  feed = new KycFeed(redis);
});
afterAll(async () => {
  feed.close();
  redis.disconnect();
  await small.destroy();
  await sandbox.close();
});

function exampleApp() {
  const config = loadConfig({ BASE_URL, SESSION_SECRET: 'x'.repeat(32) });
  const { clientID, clientSecret } = sandbox.registerClient({ redirectUris: [`${BASE_URL}/auth/fractal/callback`] });
  return createApp({ config, clientID, clientSecret, domains: sandbox.domains, redis, kycFeed: feed, log: () => undefined });
}

it('answers 503 instead of redirecting when the session store cannot keep the pending sign-in', async () => {
  const app = exampleApp();
  await small.fill();
  try {
    const res = await request(app).get('/auth/fractal').set('Accept', 'application/json');
    expect(res.status).toBe(503);
    expect(res.headers.location).toBeUndefined();
    expect(res.headers['retry-after']).toBeDefined();
  } finally {
    await small.free();
  }
  // Once Redis takes writes again, the same start redirects, and the state it sent was kept.
  const agent = request.agent(app);
  const start = await agent.get('/auth/fractal');
  expect(start.status).toBe(302);
  const location = new URL(start.headers.location as string);
  expect(location.origin).toBe(new URL(sandbox.domains.frontend).origin);
  const back = await sandbox.authorize(location.toString(), { email: 'save@example.com' });
  const callback = new URL(back);
  const done = await agent.get(`${callback.pathname}${callback.search}`);
  expect(done.status).toBe(302);
  expect(done.headers.location).not.toMatch(/error|failure/);
});
