import { ErrorCode } from '../lib/errors';
import { RedisTokenStore } from '../lib/tokens';
import { sealRecord } from '../lib/tokens/codec';
import { ACQUIRE_LOCK } from '../lib/tokens/redis-scripts';
import { monitorPrefix } from './helpers/vault-http';
import { expired } from './helpers/vault-sandbox';
import { setUpVaultEnv, type VaultEnv } from './helpers/vault-setup';

describe('refreshing rotated tokens (one process, shared Redis, sandbox provider)', () => {
  let t: VaultEnv;
  beforeAll(async () => {
    t = await setUpVaultEnv('refresh');
  });
  afterAll(() => t.teardown());
  beforeEach(() => {
    t.env.sandbox.clearFaults();
    t.env.sandbox.resetCounts();
  });
  const counts = () => t.env.sandbox.counts().token;

  test('a valid token is handed out as stored, without contacting the provider', async () => {
    const vault = t.vault();
    const { uid, tokenSet } = await t.env.signIn();
    await vault.saveTokens(uid, tokenSet);
    t.env.sandbox.resetCounts();
    expect(await vault.getAccessToken(uid)).toBe(tokenSet.accessToken);
    expect(counts()).toMatchObject({ refresh_token: 0, failed: 0 });
  });

  test('50 concurrent calls in one process share one refresh and get the same new token, which the provider accepts', async () => {
    const vault = t.vault();
    const { uid, tokenSet } = await t.env.signIn();
    await vault.saveTokens(uid, expired(tokenSet));
    t.env.sandbox.resetCounts();
    const tokens = await Promise.all(Array.from({ length: 50 }, () => vault.getAccessToken(uid)));
    expect(new Set(tokens).size).toBe(1);
    expect(tokens[0]).not.toBe(tokenSet.accessToken);
    expect(counts()).toMatchObject({ refresh_token: 1, failed: 0 });
    expect((await vault.getTokenSet(uid))?.accessToken).toBe(tokens[0]);
    expect((await vault.fetchUser(uid)).uid).toBe(uid);
  });

  test('in one process, concurrent callers share one promise: one lock attempt at Redis, not one per caller', async () => {
    const vault = t.vault();
    const { uid, tokenSet } = await t.env.signIn();
    await vault.saveTokens(uid, expired(tokenSet));
    const monitor = await monitorPrefix(t.redis, t.prefix);
    try {
      await Promise.all(Array.from({ length: 30 }, () => vault.getAccessToken(uid)));
      await monitor.settle();
      const lockAttempts = monitor.commands.filter((c) => c[0]?.toLowerCase() === 'evalsha' && c[1] === ACQUIRE_LOCK.sha);
      expect(lockAttempts).toHaveLength(1);
    } finally {
      monitor.stop();
    }
  });

  test('a token that expires within refreshSkewMs is refreshed ahead of time; one outside it is not', async () => {
    const vault = t.vault({ refreshSkewMs: 60_000 });
    const { uid, tokenSet } = await t.env.signIn();
    // A two-hour token obtained long ago, as the vault would have stored it (no sleeping).
    const aged = (remainingMs: number) =>
      t.store.set(uid, sealRecord(vault.keyring, { clientID: t.env.client.clientID, userId: uid }, { tokenSet: { ...tokenSet, expiresAt: Date.now() + remainingMs }, obtainedAt: Date.now() + remainingMs - 7_200_000 }), 60_000);
    await aged(10 * 60_000);
    t.env.sandbox.resetCounts();
    expect(await vault.getAccessToken(uid)).toBe(tokenSet.accessToken);
    expect(counts().refresh_token).toBe(0);
    await aged(30_000);
    expect(await vault.getAccessToken(uid)).not.toBe(tokenSet.accessToken);
    expect(counts().refresh_token).toBe(1);
  });

  test('tokens that live shorter than the skew are not refreshed on every call', async () => {
    t.env.sandbox.setTokenLifetimes({ accessToken: 20 });
    try {
      const vault = t.vault({ refreshSkewMs: 60_000 });
      const { uid, tokenSet } = await t.env.signIn();
      await vault.saveTokens(uid, tokenSet);
      t.env.sandbox.resetCounts();
      expect(await vault.getAccessToken(uid)).toBe(tokenSet.accessToken);
      expect(await vault.getAccessToken(uid)).toBe(tokenSet.accessToken);
      expect(counts().refresh_token).toBe(0);
    } finally {
      t.env.sandbox.setTokenLifetimes({ accessToken: 7200 });
    }
  });

  test('token endpoint failing twice (503) then succeeding: one successful refresh, no duplicate rotation', async () => {
    const vault = t.vault();
    const { uid, tokenSet } = await t.env.signIn();
    await vault.saveTokens(uid, expired(tokenSet));
    t.env.sandbox.resetCounts();
    t.env.sandbox.injectFault('token', { kind: 'status', status: 503, times: 2 });
    const token = await vault.getAccessToken(uid);
    expect(counts()).toMatchObject({ refresh_token: 1, failed: 2 });
    expect((await vault.fetchUser(uid)).uid).toBe(uid);
    // The stored refresh token is the newest one: the next rotation works.
    await vault.saveTokens(uid, expired((await vault.getTokenSet(uid))!));
    expect(await vault.getAccessToken(uid)).not.toBe(token);
    expect(counts()).toMatchObject({ refresh_token: 2, failed: 2 });
  });

  test('429 answers and timeouts are retried too', async () => {
    const vault = t.vault({ timeoutMs: 300 });
    const { uid, tokenSet } = await t.env.signIn();
    await vault.saveTokens(uid, expired(tokenSet));
    t.env.sandbox.injectFault('token', { kind: 'status', status: 429, times: 1 });
    t.env.sandbox.injectFault('token', { kind: 'delay', ms: 1000, times: 1 });
    const token = await vault.getAccessToken(uid);
    expect(token).not.toBe(tokenSet.accessToken);
    expect((await vault.getTokenSet(uid))?.accessToken).toBe(token);
    expect((await vault.fetchUser(uid)).uid).toBe(uid);
  });

  test('retries are bounded: a token endpoint that keeps failing gives a provider error, and the tokens are kept', async () => {
    // Without the per-user backoff, so that the next call tries at once (test/refresh-backoff.test.ts covers it).
    const vault = t.vault({ retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 20 }, refreshBackoff: false });
    const { uid, tokenSet } = await t.env.signIn();
    await vault.saveTokens(uid, expired(tokenSet));
    t.env.sandbox.resetCounts();
    t.env.sandbox.injectFault('token', { kind: 'status', status: 502, times: 10 });
    await expect(vault.getAccessToken(uid)).rejects.toMatchObject({ code: ErrorCode.PROVIDER_UNAVAILABLE });
    expect(counts()).toMatchObject({ refresh_token: 0, failed: 3 });
    t.env.sandbox.clearFaults();
    expect(await vault.getAccessToken(uid)).not.toBe(tokenSet.accessToken);
  });

  test('a client error such as invalid_client is not retried and does not delete the tokens', async () => {
    const vault = t.vault();
    const { uid, tokenSet } = await t.env.signIn();
    await vault.saveTokens(uid, expired(tokenSet));
    t.env.sandbox.resetCounts();
    t.env.sandbox.injectFault('token', { kind: 'status', status: 401, body: '{"error":"invalid_client"}', times: 1 });
    await expect(vault.getAccessToken(uid)).rejects.toMatchObject({ code: 'invalid_client' });
    expect(counts().failed).toBe(1);
    expect(await vault.getTokenSet(uid)).not.toBeNull();
  });

  test('a grant revoked at the provider: ReauthenticationRequired once, tokens deleted, no retry loop', async () => {
    const vault = t.vault();
    const { uid, tokenSet } = await t.env.signIn();
    await vault.saveTokens(uid, expired(tokenSet));
    t.env.sandbox.revokeGrant(uid, t.env.client.clientID);
    t.env.sandbox.resetCounts();
    await expect(vault.getAccessToken(uid)).rejects.toMatchObject({ code: ErrorCode.REAUTHENTICATION_REQUIRED, status: 401 });
    expect(counts()).toMatchObject({ refresh_token: 0, failed: 1 });
    expect(await t.store.get(uid)).toBeNull();
    // Later calls fail at once, without asking the provider again.
    await expect(vault.getAccessToken(uid)).rejects.toMatchObject({ code: ErrorCode.REAUTHENTICATION_REQUIRED });
    expect(counts().failed).toBe(1);
  });

  test('fetchUser with a revoked (unexpired) access token refreshes once, then asks for sign-in', async () => {
    const vault = t.vault();
    const { uid, tokenSet } = await t.env.signIn();
    await vault.saveTokens(uid, tokenSet);
    t.env.sandbox.revokeGrant(uid);
    t.env.sandbox.resetCounts();
    await expect(vault.fetchUser(uid)).rejects.toMatchObject({ code: ErrorCode.REAUTHENTICATION_REQUIRED });
    expect(t.env.sandbox.counts()).toMatchObject({ userinfo: 1, token: { failed: 1 } });
    expect(await t.store.get(uid)).toBeNull();
  });

  test('fetchUser refreshes once when the resource server rejects a token it should accept', async () => {
    const vault = t.vault();
    const { uid, tokenSet } = await t.env.signIn();
    await vault.saveTokens(uid, tokenSet);
    t.env.sandbox.resetCounts();
    t.env.sandbox.injectFault('userinfo', { kind: 'status', status: 401, body: '{"error":"invalid_token"}', times: 1 });
    expect((await vault.fetchUser(uid)).uid).toBe(uid);
    expect(t.env.sandbox.counts()).toMatchObject({ userinfo: 2, token: { refresh_token: 1 } });
  });

  test('no stored tokens: ReauthenticationRequired without contacting the provider', async () => {
    await expect(t.vault().getAccessToken('never-signed-in')).rejects.toMatchObject({ code: ErrorCode.REAUTHENTICATION_REQUIRED });
    expect(counts()).toMatchObject({ refresh_token: 0, failed: 0 });
  });

  test('an expired token set without a refresh token asks for sign-in and is deleted', async () => {
    const vault = t.vault();
    const { uid, tokenSet } = await t.env.signIn();
    const { refreshToken: _drop, ...withoutRefresh } = expired(tokenSet);
    await vault.saveTokens(uid, withoutRefresh);
    await expect(vault.getAccessToken(uid)).rejects.toMatchObject({ code: ErrorCode.REAUTHENTICATION_REQUIRED });
    expect(await t.store.get(uid)).toBeNull();
    expect(counts().failed).toBe(0);
  });

  describe('a lock holder that stalls past its lock (fencing)', () => {
    test('its late, successful refresh is discarded: the newer set written by another process stays', async () => {
      const slow = t.vault({ lockTtlMs: 200, timeoutMs: 5000 });
      const other = t.vault({ lockTtlMs: 5000 });
      const { uid, tokenSet } = await t.env.signIn();
      await slow.saveTokens(uid, expired(tokenSet));
      t.env.sandbox.injectFault('token', { kind: 'delay', ms: 800, times: 1 });
      const slowResult = slow.getAccessToken(uid);
      await new Promise((resolve) => setTimeout(resolve, 350));
      const newer = await other.getAccessToken(uid);
      expect(await slowResult).toBe(newer);
      expect((await other.getTokenSet(uid))?.accessToken).toBe(newer);
      expect(counts().refresh_token).toBe(2);
    });

    test('its late write is refused by the lock token alone, while the version still matches', async () => {
      // The other process holds the lock but has not written yet, so the stalled holder's
      // compareAndSet has the right version: only the lock token can refuse it.
      let responded: () => void = () => undefined;
      const slowResponded = new Promise<void>((resolve) => (responded = resolve));
      const slow = t.vault({ lockTtlMs: 200, timeoutMs: 5000, hooks: { afterTokenResponse: () => responded() } });
      const other = t.vault({ lockTtlMs: 5000, timeoutMs: 5000 });
      const { uid, tokenSet } = await t.env.signIn();
      await slow.saveTokens(uid, expired(tokenSet));
      const versionKey = t.store.keysFor(uid).tokens;
      const before = await t.redis.hget(versionKey, 'v');
      t.env.sandbox.injectFault('token', { kind: 'delay', ms: 800, times: 1 });
      t.env.sandbox.injectFault('token', { kind: 'delay', ms: 2500, times: 1 });
      const slowResult = slow.getAccessToken(uid);
      await new Promise((resolve) => setTimeout(resolve, 350));
      const otherResult = other.getAccessToken(uid);
      await slowResponded;
      // Its compareAndSet runs right after the hook; the other refresh answers ~1.7 s later.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(await t.redis.hget(versionKey, 'v')).toBe(before);
      const newer = await otherResult;
      expect(await slowResult).toBe(newer);
      expect(Number(await t.redis.hget(versionKey, 'v'))).toBe(Number(before) + 1);
      expect((await other.getTokenSet(uid))?.accessToken).toBe(newer);
      expect(counts().refresh_token).toBe(2);
    });

    test('its refresh token was already rotated and revoked: invalid_grant re-reads the store and uses the newer set', async () => {
      const slow = t.vault({ lockTtlMs: 200, timeoutMs: 5000 });
      const other = t.vault({ lockTtlMs: 5000 });
      const { uid, tokenSet } = await t.env.signIn();
      await slow.saveTokens(uid, expired(tokenSet));
      t.env.sandbox.injectFault('token', { kind: 'delay', ms: 1500, times: 1 });
      const slowResult = slow.getAccessToken(uid);
      await new Promise((resolve) => setTimeout(resolve, 350));
      const newer = await other.getAccessToken(uid);
      // Using the new access token makes the provider revoke the previous refresh token.
      await other.fetchUser(uid);
      expect(await slowResult).toBe(newer);
      expect(counts()).toMatchObject({ refresh_token: 1, failed: 1 });
      expect((await other.getTokenSet(uid))?.accessToken).toBe(newer);
    });
  });

  test('records written by another vault with a different prefix are invisible (isolation)', async () => {
    const { uid, tokenSet } = await t.env.signIn();
    await t.vault().saveTokens(uid, tokenSet);
    const elsewhere = t.vault({ store: new RedisTokenStore({ client: t.redis, prefix: `${t.prefix}other:` }) });
    expect(await elsewhere.getTokenSet(uid)).toBeNull();
  });
});
