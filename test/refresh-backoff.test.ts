import express from 'express';
import request from 'supertest';
import { ConfigurationError, ErrorCode, RefreshThrottledError } from '../lib/errors';
import { RedisTokenStore, type FractalVault } from '../lib/tokens';
import { sealRecord } from '../lib/tokens/codec';
import type { FractalTokenSet } from '../lib/provider/token-client';
import { expired } from './helpers/vault-sandbox';
import { setUpVaultEnv, type VaultEnv } from './helpers/vault-setup';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The per-user refresh backoff (issue 7, "a per-user rate limit on refresh attempts after
 * failures"): real Redis, the sandbox's token endpoint failing on purpose, and the sandbox's
 * counters as the proof of how often the provider was asked.
 */
describe('refresh backoff after failures (shared Redis, sandbox provider)', () => {
  let t: VaultEnv;
  beforeAll(async () => {
    t = await setUpVaultEnv('backoff');
  });
  afterAll(() => t.teardown());
  beforeEach(() => {
    t.env.sandbox.clearFaults();
    t.env.sandbox.resetCounts();
  });
  const failedTokenRequests = () => t.env.sandbox.counts().token.failed;
  const refreshes = () => t.env.sandbox.counts().token.refresh_token;
  const tokenEndpointDown = () => t.env.sandbox.injectFault('token', { kind: 'status', status: 502, times: 1000 });
  const retry = { attempts: 2, baseDelayMs: 10, maxDelayMs: 20 };

  /** A user whose stored access token expires in `remainingMs` (inside the default 60 s skew when short). */
  async function signedIn(vault: FractalVault, remainingMs?: number): Promise<{ uid: string; tokenSet: FractalTokenSet }> {
    const { uid, tokenSet } = await t.env.signIn();
    if (remainingMs === undefined) {
      await vault.saveTokens(uid, expired(tokenSet));
    } else {
      const aged = { ...tokenSet, expiresAt: Date.now() + remainingMs };
      await t.store.set(uid, sealRecord(vault.keyring, { clientID: t.env.client.clientID, userId: uid }, { tokenSet: aged, obtainedAt: aged.expiresAt - 7_200_000 }), 60_000);
    }
    t.env.sandbox.resetCounts();
    return { uid, tokenSet };
  }

  test('after a failed refresh, the next calls are refused with refresh_throttled and the provider is not asked again', async () => {
    const vault = t.vault({ retry, refreshBackoff: { baseMs: 5000, maxMs: 60_000 } });
    const { uid } = await signedIn(vault);
    tokenEndpointDown();
    await expect(vault.getAccessToken(uid)).rejects.toMatchObject({ code: ErrorCode.PROVIDER_UNAVAILABLE });
    expect(failedTokenRequests()).toBe(2);

    const results = await Promise.allSettled(Array.from({ length: 20 }, () => vault.getAccessToken(uid)));
    for (const result of results) {
      expect(result.status).toBe('rejected');
      const err = (result as PromiseRejectedResult).reason;
      expect(err).toBeInstanceOf(RefreshThrottledError);
      expect(err).toMatchObject({ code: ErrorCode.REFRESH_THROTTLED, status: 503 });
      expect(err.retryAfter).toBeGreaterThanOrEqual(1);
      expect(err.retryAfter).toBeLessThanOrEqual(5);
    }
    expect(failedTokenRequests()).toBe(2);
    // Nothing was lost: the grant is still stored.
    expect(await vault.getTokenSet(uid)).not.toBeNull();
  });

  test('the backoff is shared: another process sharing the store does not ask the provider either', async () => {
    const first = t.vault({ retry, refreshBackoff: { baseMs: 5000, maxMs: 60_000 } });
    const otherStore = new RedisTokenStore({ client: t.redis, prefix: t.prefix });
    const second = t.vault({ retry, refreshBackoff: { baseMs: 5000, maxMs: 60_000 }, store: otherStore });
    const { uid } = await signedIn(first);
    tokenEndpointDown();
    await expect(first.getAccessToken(uid)).rejects.toMatchObject({ code: ErrorCode.PROVIDER_UNAVAILABLE });
    await expect(second.getAccessToken(uid)).rejects.toMatchObject({ code: ErrorCode.REFRESH_THROTTLED });
    expect(failedTokenRequests()).toBe(2);
  });

  test('each further failure doubles the wait, and once it ends the next call refreshes and forgets the failures', async () => {
    const vault = t.vault({ retry: { attempts: 1 }, refreshBackoff: { baseMs: 300, maxMs: 10_000 } });
    const { uid, tokenSet } = await signedIn(vault);
    tokenEndpointDown();
    await expect(vault.getAccessToken(uid)).rejects.toMatchObject({ code: ErrorCode.PROVIDER_UNAVAILABLE });
    const firstWait = await t.store.refreshBackoffMs(uid);
    expect(firstWait).toBeGreaterThan(0);
    expect(firstWait).toBeLessThanOrEqual(300);
    await sleep(firstWait + 50);

    await expect(vault.getAccessToken(uid)).rejects.toMatchObject({ code: ErrorCode.PROVIDER_UNAVAILABLE });
    const secondWait = await t.store.refreshBackoffMs(uid);
    expect(secondWait).toBeGreaterThan(300);
    expect(secondWait).toBeLessThanOrEqual(600);
    await expect(vault.getAccessToken(uid)).rejects.toMatchObject({ code: ErrorCode.REFRESH_THROTTLED });
    expect(failedTokenRequests()).toBe(2);

    t.env.sandbox.clearFaults();
    await sleep(secondWait + 50);
    const renewed = await vault.getAccessToken(uid);
    expect(renewed).not.toBe(tokenSet.accessToken);
    expect(refreshes()).toBe(1);
    expect(await t.store.refreshBackoffMs(uid)).toBe(0);
    expect(await t.redis.exists(t.store.keysFor(uid).backoff)).toBe(0);
    expect((await vault.fetchUser(uid)).uid).toBe(uid);
  });

  test('while the access token has not expired, a failed early refresh hands out the current token, and so do throttled calls', async () => {
    const vault = t.vault({ retry, refreshSkewMs: 60_000, refreshBackoff: { baseMs: 5000, maxMs: 60_000 } });
    const { uid, tokenSet } = await signedIn(vault, 30_000);
    tokenEndpointDown();
    expect(await vault.getAccessToken(uid)).toBe(tokenSet.accessToken);
    expect(failedTokenRequests()).toBe(2);
    for (let i = 0; i < 10; i++) expect(await vault.getAccessToken(uid)).toBe(tokenSet.accessToken);
    expect(failedTokenRequests()).toBe(2);
    // The provider still accepts it: it really was valid.
    expect((await vault.fetchUser(uid)).uid).toBe(uid);
  });

  test('a token the resource server rejected is not handed out again during the backoff', async () => {
    const vault = t.vault({ retry, refreshSkewMs: 60_000, refreshBackoff: { baseMs: 5000, maxMs: 60_000 } });
    const { uid, tokenSet } = await signedIn(vault, 30_000);
    tokenEndpointDown();
    expect(await vault.getAccessToken(uid)).toBe(tokenSet.accessToken);
    t.env.sandbox.injectFault('userinfo', { kind: 'status', status: 401, body: '{"error":"invalid_token"}', times: 1 });
    await expect(vault.fetchUser(uid)).rejects.toMatchObject({ code: ErrorCode.REFRESH_THROTTLED });
    expect(failedTokenRequests()).toBe(2);
  });

  test('the guard answers 503 refresh_throttled with Retry-After, as JSON for APIs and text for browsers', async () => {
    const vault = t.vault({ retry, refreshBackoff: { baseMs: 5000, maxMs: 60_000 } });
    const { uid } = await signedIn(vault);
    tokenEndpointDown();
    await expect(vault.getAccessToken(uid)).rejects.toMatchObject({ code: ErrorCode.PROVIDER_UNAVAILABLE });
    const app = express();
    app.use((req, _res, next) => {
      (req as { user?: { id: string } }).user = { id: uid };
      next();
    });
    app.get('/api', vault.require(), (_req, res) => {
      res.json({ ok: true });
    });
    const api = await request(app).get('/api').set('accept', 'application/json');
    expect(api.status).toBe(503);
    expect(api.body).toEqual({ error: 'refresh_throttled', error_description: expect.any(String) });
    expect(Number(api.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(api.headers['retry-after'])).toBeLessThanOrEqual(5);
    const page = await request(app).get('/api').set('accept', 'text/html');
    expect(page.status).toBe(503);
    expect(page.headers['retry-after']).toMatch(/^\d+$/);
    expect(page.headers['content-type']).toMatch(/text\/plain/);
    expect(failedTokenRequests()).toBe(2);
  });

  test('a revoked grant is a sign-out, not a failure: no backoff is recorded', async () => {
    const vault = t.vault({ retry, refreshBackoff: { baseMs: 5000, maxMs: 60_000 } });
    const { uid } = await signedIn(vault);
    t.env.sandbox.revokeGrant(uid);
    await expect(vault.getAccessToken(uid)).rejects.toMatchObject({ code: ErrorCode.REAUTHENTICATION_REQUIRED });
    expect(await t.store.refreshBackoffMs(uid)).toBe(0);
  });

  test('a configuration error at the provider (invalid_client) is throttled like an outage, and the grant is kept', async () => {
    const vault = t.vault({ retry, refreshBackoff: { baseMs: 5000, maxMs: 60_000 } });
    const { uid } = await signedIn(vault);
    t.env.sandbox.injectFault('token', { kind: 'status', status: 401, body: '{"error":"invalid_client"}', times: 1000 });
    await expect(vault.getAccessToken(uid)).rejects.toMatchObject({ code: ErrorCode.INVALID_CLIENT });
    await expect(vault.getAccessToken(uid)).rejects.toMatchObject({ code: ErrorCode.REFRESH_THROTTLED });
    expect(failedTokenRequests()).toBe(1);
    expect(await vault.getTokenSet(uid)).not.toBeNull();
  });

  test('refreshBackoff: false asks the provider on every call', async () => {
    const vault = t.vault({ retry, refreshBackoff: false });
    const { uid } = await signedIn(vault);
    tokenEndpointDown();
    await expect(vault.getAccessToken(uid)).rejects.toMatchObject({ code: ErrorCode.PROVIDER_UNAVAILABLE });
    await expect(vault.getAccessToken(uid)).rejects.toMatchObject({ code: ErrorCode.PROVIDER_UNAVAILABLE });
    expect(failedTokenRequests()).toBe(4);
    expect(await t.store.refreshBackoffMs(uid)).toBe(0);
  });

  test('a nonsensical refreshBackoff is a configuration error', () => {
    expect(() => t.vault({ refreshBackoff: { baseMs: 0 } })).toThrow(ConfigurationError);
    expect(() => t.vault({ refreshBackoff: { baseMs: 5000, maxMs: 1000 } })).toThrow(ConfigurationError);
    expect(() => t.vault({ refreshBackoff: { baseMs: Number.NaN } })).toThrow(ConfigurationError);
  });
});
