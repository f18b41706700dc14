import { ErrorCode } from '../lib/errors';
import { expired } from './helpers/vault-sandbox';
import { setUpVaultEnv, type VaultEnv } from './helpers/vault-setup';

/**
 * The refresher's two ways of giving up (lib/tokens/refresher.ts): waiting longer than
 * `waitTimeoutMs` for another process's refresh, and losing the fenced write `MAX_ROUNDS` (3)
 * times in a row. Either way the caller gets a typed provider error instead of waiting or
 * looping forever, and the stored record is left as it was.
 */
describe('the refresher gives up (shared Redis, sandbox provider)', () => {
  let t: VaultEnv;
  beforeAll(async () => {
    t = await setUpVaultEnv('give-up');
  });
  afterAll(() => t.teardown());
  beforeEach(() => {
    t.env.sandbox.clearFaults();
    t.env.sandbox.resetCounts();
  });

  test('another process holds the lock and never writes: provider_timeout (504) after waitTimeoutMs, long before the lock ends', async () => {
    const waitTimeoutMs = 600;
    const vault = t.vault({ lockTtlMs: 30_000, waitTimeoutMs });
    const { uid, tokenSet } = await t.env.signIn();
    await vault.saveTokens(uid, expired(tokenSet));
    const version = await t.redis.hget(t.store.keysFor(uid).tokens, 'v');
    // A stuck refresher elsewhere: it took the lock (for 30 s) and will not finish.
    const stuck = await t.store.acquireLock(uid, 30_000);
    expect(stuck).not.toBeNull();
    try {
      const started = Date.now();
      const failure = await vault.getAccessToken(uid).catch((err: unknown) => err);
      const waited = Date.now() - started;
      expect(failure).toMatchObject({ code: ErrorCode.PROVIDER_TIMEOUT, status: 504 });
      expect((failure as Error).message).toContain(`${waitTimeoutMs} ms`);
      // It waited for the other process (at least waitTimeoutMs), and gave up instead of waiting out its lock.
      expect(waited).toBeGreaterThanOrEqual(waitTimeoutMs - 20);
      expect(waited).toBeLessThan(15_000);
      // It never took over: no refresh at the provider, the record untouched, the lock still theirs.
      expect(t.env.sandbox.counts().token).toMatchObject({ refresh_token: 0, failed: 0 });
      expect(await t.redis.hget(t.store.keysFor(uid).tokens, 'v')).toBe(version);
      expect(await t.redis.get(t.store.keysFor(uid).lock)).toBe(stuck);
    } finally {
      await t.store.releaseLock(uid, stuck as string);
    }
  });

  test('every fenced write is lost (the record changes under each refresh): provider_unavailable after exactly 3 refreshes', async () => {
    const { uid, tokenSet } = await t.env.signIn();
    const elsewhere = t.vault();
    // Each time the token endpoint has answered and before the write, another process signs the
    // user in again with a set that is already expired: the version moved, so the write is
    // refused, and what is stored is still not usable.
    let interruptions = 0;
    const vault = t.vault({
      hooks: {
        afterTokenResponse: async () => {
          interruptions++;
          await elsewhere.saveTokens(uid, expired(tokenSet));
        },
      },
    });
    await vault.saveTokens(uid, expired(tokenSet));
    const failure = await vault.getAccessToken(uid).catch((err: unknown) => err);
    expect(failure).toMatchObject({ code: ErrorCode.PROVIDER_UNAVAILABLE, status: 502 });
    expect((failure as Error).message).toContain('3 rounds');
    expect(interruptions).toBe(3);
    expect(t.env.sandbox.counts().token).toMatchObject({ refresh_token: 3, failed: 0 });
    // None of the three refreshed sets was written: the store holds the last expired sign-in.
    expect((await vault.getTokenSet(uid))?.accessToken).toBe(tokenSet.accessToken);
    // And it is a give-up, not a lock-out: once nobody interferes, the next call refreshes.
    const recovered = t.vault();
    const token = await recovered.getAccessToken(uid);
    expect(token).not.toBe(tokenSet.accessToken);
    expect(t.env.sandbox.counts().token.refresh_token).toBe(4);
  });
});
