import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ErrorCode } from '../lib/errors';
import { MemoryAppTokenCache, ResourceErrorCode } from '../lib/client';
import { signIn, registerTestClient } from './helpers/sandbox';
import { seedUsers, startClientSandbox, tokenRequests, type ClientSandbox } from './helpers/client-sandbox';

let env: ClientSandbox;
beforeEach(async () => {
  env = await startClientSandbox();
});
afterEach(async () => {
  await env.close();
});

const json = (body: unknown) => ({ body: JSON.stringify(body), contentType: 'application/json' });

describe('FractalClient statistics', () => {
  test('reads total, per-country and per-user statistics in the shapes of application-statistics.md', async () => {
    const { alice, bob, carol } = seedUsers(env.sandbox);
    const client = env.client();

    await expect(client.stats.totalVerifications()).resolves.toEqual({ approved: 1, contacted: 1, rejected: 1, pending: 1 });
    // A country lists only the statuses it has.
    await expect(client.stats.countryVerifications()).resolves.toEqual({ DE: { approved: 1, contacted: 1, pending: 1 }, FR: { rejected: 1 } });
    const users = await client.stats.userVerifications();
    expect([...users].sort((a, b) => `${a.user_id}${a.level}`.localeCompare(`${b.user_id}${b.level}`))).toEqual(
      [
        { user_id: alice, level: 'basic', credential: 'approved' },
        { user_id: alice, level: 'liveness', credential: 'pending' },
        { user_id: bob, level: 'basic', credential: 'rejected' },
        { user_id: carol, level: 'plus', credential: 'contacted' },
      ].sort((a, b) => `${a.user_id}${a.level}`.localeCompare(`${b.user_id}${b.level}`)),
    );
    expect(tokenRequests(env.sandbox)).toBe(1);
  });

  test('user-verifications is one GET without parameters (the docs document none)', async () => {
    // A loopback server of our own as the resource origin, to see the exact request line.
    const urls: string[] = [];
    const server = createServer((req, res) => {
      urls.push(req.url ?? '');
      res.writeHead(200, { 'content-type': 'application/json' }).end('[]');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const client = env.client({ domains: { ...env.sandbox.domains, resource: `http://127.0.0.1:${port}` } });
      await expect(client.stats.userVerifications()).resolves.toEqual([]);
      expect(urls).toEqual(['/v2/stats/user-verifications']);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  test('user-verifications is read tolerantly: entries without user_id or level are skipped, unknown fields kept', async () => {
    const client = env.client();
    const body = [
      { user_id: 'u1', level: 'v1', credential: 'approved', since: '2020' },
      { user_id: 'u1', level: 'light+selfie+wallet', credential: 'expired' },
      { user_id: 'u2', level: 'basic', credential: 7 },
      { user_id: 'u3', credential: 'approved' },
      { level: 'basic', credential: 'approved' },
      'junk',
    ];
    env.sandbox.injectFault('stats', { kind: 'status', status: 200, ...json(body) });
    await expect(client.stats.userVerifications()).resolves.toEqual([
      { user_id: 'u1', level: 'v1', credential: 'approved', since: '2020' },
      { user_id: 'u1', level: 'light+selfie+wallet', credential: 'expired' },
      { user_id: 'u2', level: 'basic' },
    ]);
    env.sandbox.injectFault('stats', { kind: 'status', status: 200, ...json({ [`u1`]: { basic: 'approved' } }) });
    await expect(client.stats.userVerifications()).rejects.toMatchObject({ code: ErrorCode.INVALID_PROVIDER_RESPONSE, endpoint: 'stats/user-verifications' });
  });

  test('country counts accept partial status lists and expired', async () => {
    const client = env.client();
    env.sandbox.injectFault('stats', { kind: 'status', status: 200, ...json({ DK: { approved: 12 }, NL: { expired: 2 }, US: { approved: 8, contacted: 1, rejected: 2, pending: 3 } }) });
    await expect(client.stats.countryVerifications()).resolves.toEqual({ DK: { approved: 12 }, NL: { expired: 2 }, US: { approved: 8, contacted: 1, rejected: 2, pending: 3 } });
    env.sandbox.injectFault('stats', { kind: 'status', status: 200, ...json({ NL: { expired: -1 } }) });
    await expect(client.stats.countryVerifications()).rejects.toMatchObject({ code: ErrorCode.INVALID_PROVIDER_RESPONSE });
  });

  test('unknown fields of an answer pass through; a wrong shape is invalid_provider_response', async () => {
    const client = env.client();
    env.sandbox.injectFault('stats', { kind: 'status', status: 200, ...json({ approved: 1, contacted: 0, rejected: 0, pending: 2, expired: 3, since: '2024' }) });
    await expect(client.stats.totalVerifications()).resolves.toEqual({ approved: 1, contacted: 0, rejected: 0, pending: 2, expired: 3, since: '2024' });

    env.sandbox.injectFault('stats', { kind: 'status', status: 200, ...json({ approved: 'many', contacted: 0, rejected: 0, pending: 0 }) });
    await expect(client.stats.totalVerifications()).rejects.toMatchObject({ code: ErrorCode.INVALID_PROVIDER_RESPONSE, endpoint: 'stats/total-verifications' });

    env.sandbox.injectFault('stats', { kind: 'invalid-json' });
    await expect(client.stats.countryVerifications()).rejects.toMatchObject({ code: ErrorCode.INVALID_PROVIDER_RESPONSE });
  });
});

describe('FractalClient app token', () => {
  test('100 concurrent calls make exactly one token request', async () => {
    seedUsers(env.sandbox);
    const client = env.client();

    const results = await Promise.all(Array.from({ length: 100 }, () => client.stats.totalVerifications()));

    expect(results.every((r) => r.approved === 1)).toBe(true);
    expect(tokenRequests(env.sandbox)).toBe(1);
    expect(env.sandbox.counts().stats).toBe(100);
  });

  test('clients given the same MemoryAppTokenCache share one token', async () => {
    const tokenCache = new MemoryAppTokenCache();
    const a = env.client({ tokenCache });
    const b = env.client({ tokenCache });
    env.sandbox.injectFault('token', { kind: 'delay', ms: 100 });

    await Promise.all([a.stats.totalVerifications(), b.stats.totalVerifications(), b.stats.countryVerifications()]);

    expect(tokenRequests(env.sandbox)).toBe(1);
    await tokenCache.close();
  });

  test('reuses the token until shortly before it expires, then fetches a new one before the provider would refuse it', async () => {
    // Two seconds from our send time; with a 200 ms margin the token is reused for 1.8 s, and
    // replaced 1.9 s later.
    env.sandbox.setTokenLifetimes({ accessToken: 2 });
    const client = env.client({ expiryMarginMs: 200 });

    const first = await client.getAppToken();
    await client.stats.totalVerifications();
    expect(await client.getAppToken()).toBe(first);
    expect(tokenRequests(env.sandbox)).toBe(1);

    await new Promise((resolve) => setTimeout(resolve, 1900));
    await client.stats.totalVerifications();

    expect(await client.getAppToken()).not.toBe(first);
    expect(tokenRequests(env.sandbox)).toBe(2);
    // One request per call: the expired token never reached the resource server (no 401 + retry).
    expect(env.sandbox.counts().stats).toBe(2);
  });

  test('a 401 from the resource server drops the cached token and retries once with a new one', async () => {
    const client = env.client();
    await client.stats.totalVerifications();
    const first = await client.getAppToken();
    // The provider now considers the cached token expired, while the client still thinks it fresh.
    env.sandbox.setClockSkew(3 * 3600 * 1000);

    await expect(client.stats.totalVerifications()).resolves.toMatchObject({ approved: 0 });

    expect(await client.getAppToken()).not.toBe(first);
    expect(tokenRequests(env.sandbox)).toBe(2);
    expect(env.sandbox.counts().stats).toBe(3);
  });

  test('a second 401 is not retried again: invalid_token with the provider message', async () => {
    const client = env.client();
    const body = json({ error: 'invalid_token', error_description: 'The access token was revoked' });
    env.sandbox.injectFault('stats', { kind: 'status', status: 401, ...body, times: 3 });

    const err = await client.stats.totalVerifications().catch((e: unknown) => e);

    expect(err).toMatchObject({
      code: ResourceErrorCode.INVALID_TOKEN,
      providerStatus: 401,
      error: 'invalid_token',
      description: 'The access token was revoked',
      endpoint: 'stats/total-verifications',
    });
    expect(tokenRequests(env.sandbox)).toBe(2);
    expect(env.sandbox.counts().stats).toBe(2);
  });

  test('wrong client credentials fail with the token endpoint error, without calling the statistics', async () => {
    const client = env.client({ clientSecret: 'wrong-secret' });

    const err = await client.stats.totalVerifications().catch((e: unknown) => e);

    expect(err).toMatchObject({ code: ErrorCode.INVALID_CLIENT });
    expect(String((err as Error).message)).not.toContain('wrong-secret');
    expect(env.sandbox.counts().token.failed).toBe(1);
    expect(env.sandbox.counts().stats).toBe(0);
  });

  test('a failing token endpoint is retried like the resource server', async () => {
    env.sandbox.injectFault('token', { kind: 'status', status: 503, times: 2 });
    const client = env.client();

    await expect(client.stats.totalVerifications()).resolves.toMatchObject({ approved: 0 });
    expect(env.sandbox.counts().token).toMatchObject({ client_credentials: 1, failed: 2 });
  });
});

describe('FractalClient errors and retries', () => {
  test('5xx answers are retried with backoff until one succeeds', async () => {
    env.sandbox.injectFault('stats', { kind: 'status', status: 503, times: 2 });
    const client = env.client();

    await expect(client.stats.totalVerifications()).resolves.toMatchObject({ approved: 0 });
    expect(env.sandbox.counts().stats).toBe(3);
  });

  test('connection resets are retried too (the statistics are idempotent reads)', async () => {
    env.sandbox.injectFault('stats', { kind: 'reset' });
    const client = env.client();

    await expect(client.stats.countryVerifications()).resolves.toEqual({});
    expect(env.sandbox.counts().stats).toBe(2);
  });

  test('after the last attempt a 5xx is provider_unavailable with the status', async () => {
    env.sandbox.injectFault('stats', { kind: 'status', status: 500, times: 5 });
    const client = env.client({ retry: { attempts: 2, baseDelayMs: 5, maxDelayMs: 10 } });

    await expect(client.stats.totalVerifications()).rejects.toMatchObject({ code: ResourceErrorCode.PROVIDER_UNAVAILABLE, providerStatus: 500, status: 502 });
    expect(env.sandbox.counts().stats).toBe(2);
  });

  test('other statuses are typed with status and provider message, and not retried', async () => {
    const body = json({ error: 'invalid_request', error_description: 'request is too long' });
    env.sandbox.injectFault('stats', { kind: 'status', status: 400, ...body });
    const client = env.client();

    const err = await client.stats.userVerifications().catch((e: unknown) => e);

    expect(err).toMatchObject({
      code: ResourceErrorCode.REQUEST_REJECTED,
      providerStatus: 400,
      error: 'invalid_request',
      description: 'request is too long',
      endpoint: 'stats/user-verifications',
    });
    expect((err as Error).message).toContain('request is too long');
    expect(env.sandbox.counts().stats).toBe(1);
  });

  test('a 403 says which scope is missing', async () => {
    const body = json({ error: 'insufficient_scope', error_description: 'Access to this resource requires scope "client.stats:read".' });
    env.sandbox.injectFault('stats', { kind: 'status', status: 403, ...body });
    const client = env.client();

    await expect(client.stats.totalVerifications()).rejects.toMatchObject({
      code: ResourceErrorCode.INSUFFICIENT_SCOPE,
      providerStatus: 403,
      message: expect.stringContaining('client.stats:read'),
    });
  });
});

describe('FractalClient users.me', () => {
  test('reads the signed-in user with their own token, without an app token', async () => {
    const app = registerTestClient(env.sandbox);
    const tokens = await signIn(env.sandbox, app, { scope: 'uid:read verification.basic:read' });
    const client = env.client();

    const user = await client.users.me(tokens.access_token);

    expect(user.uid).toBe(env.sandbox.users.findByEmail('alice@example.com')?.uid);
    expect(tokenRequests(env.sandbox)).toBe(0);
  });

  test('an app token is refused by users.me (it has no user)', async () => {
    const client = env.client();
    await expect(client.users.me(await client.getAppToken())).rejects.toMatchObject({ providerStatus: 403 });
  });
});

describe('FractalClient options', () => {
  test('missing credentials or bad numbers fail at construction with a configuration_error', () => {
    expect(() => env.client({ clientID: '' })).toThrow(expect.objectContaining({ code: ErrorCode.CONFIGURATION }));
    expect(() => env.client({ clientSecret: '' })).toThrow(/clientSecret/);
    expect(() => env.client({ timeoutMs: 0 })).toThrow(/timeoutMs/);
    expect(() => env.client({ domains: { resource: 'http://example.com' } })).toThrow(/https/);
  });
});
