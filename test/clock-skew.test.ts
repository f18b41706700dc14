import { FractalClient } from '../lib/client';
import { buildApp, finishSignIn, newAgent, startSignIn } from './helpers/app';
import { setUpVaultEnv, type VaultEnv } from './helpers/vault-setup';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The provider's clock ahead of or behind ours (issue 7: "clock skew of +-5 minutes between app
 * and provider"; the hours are the failure a provider-clock-based expiry used to have). The
 * sandbox shifts everything it does by the skew: `created_at`, code and token expiry, events.
 * Whatever the skew, sign-in works, a token is neither refreshed early on every call nor used
 * after the provider stopped accepting it, and nothing is lost.
 */
describe.each([
  ['5 minutes behind', -5 * MINUTE],
  ['5 minutes ahead', 5 * MINUTE],
  ['3 hours behind', -3 * HOUR],
  ['3 hours ahead', 3 * HOUR],
])('provider clock %s', (_label, skewMs) => {
  let t: VaultEnv;
  beforeAll(async () => {
    t = await setUpVaultEnv('skew');
    t.env.sandbox.setClockSkew(skewMs);
  });
  afterAll(() => t.teardown());
  beforeEach(() => {
    t.env.sandbox.setTokenLifetimes({ accessToken: 7200 });
    t.env.sandbox.resetCounts();
  });
  const refreshes = () => t.env.sandbox.counts().token.refresh_token;

  test('a sign-in through the strategy completes, and the tokens expire 2 h from now on our clock', async () => {
    const { app, verified } = buildApp(t.env.sandbox);
    const agent = newAgent(app);
    const before = Date.now();
    const res = await finishSignIn(agent, t.env.sandbox, await startSignIn(agent));
    const after = Date.now();
    expect(res.body.outcome).toBe('success');
    const { expiresAt } = verified[0]![2].tokenSet;
    expect(expiresAt).toBeGreaterThanOrEqual(before + 7200 * 1000 - 1000);
    expect(expiresAt).toBeLessThanOrEqual(after + 7200 * 1000);
  });

  test('the vault hands out the stored token without refreshing, and the provider accepts it', async () => {
    const vault = t.vault();
    const { uid, tokenSet } = await t.env.signIn();
    await vault.saveTokens(uid, tokenSet);
    for (let i = 0; i < 10; i++) expect(await vault.getAccessToken(uid)).toBe(tokenSet.accessToken);
    expect(refreshes()).toBe(0);
    expect((await vault.fetchUser(uid)).uid).toBe(uid);
  });

  test('a short-lived token is used while the provider accepts it and refreshed once near its end', async () => {
    t.env.sandbox.setTokenLifetimes({ accessToken: 3 });
    // The 60 s skew is capped at half the 3 s lifetime: refresh in the last 1.5 s.
    const vault = t.vault({ refreshSkewMs: 60_000 });
    const { uid, tokenSet } = await t.env.signIn();
    await vault.saveTokens(uid, tokenSet);
    expect(await vault.getAccessToken(uid)).toBe(tokenSet.accessToken);
    expect(await vault.getAccessToken(uid)).toBe(tokenSet.accessToken);
    expect((await vault.fetchUser(uid)).uid).toBe(uid);
    expect(refreshes()).toBe(0);

    await sleep(Math.max(0, tokenSet.expiresAt - 1500 - Date.now()) + 100);
    const renewed = await vault.getAccessToken(uid);
    expect(renewed).not.toBe(tokenSet.accessToken);
    expect(await vault.getAccessToken(uid)).toBe(renewed);
    expect(refreshes()).toBe(1);
    // The renewed token is live at the provider, and the one before it was revoked by its use.
    expect((await vault.fetchUser(uid)).uid).toBe(uid);
  });

  test('the back-office client reuses its app token instead of fetching one per call', async () => {
    const client = new FractalClient({ ...t.env.client, domains: t.env.sandbox.domains });
    try {
      await client.stats.totalVerifications();
      await client.stats.totalVerifications();
      expect(await client.getAppToken()).toBe(await client.getAppToken());
      expect(t.env.sandbox.counts().token.client_credentials).toBe(1);
    } finally {
      await client.close();
    }
  });
});
