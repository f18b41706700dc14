import { ErrorCode } from '../lib/errors';
import { createFractalVault, createKeyring, generateEncryptionKey, MemoryTokenStore } from '../lib/tokens';
import { expired } from './helpers/vault-sandbox';
import { setUpVaultEnv, type VaultEnv } from './helpers/vault-setup';

describe('token vault storage', () => {
  let t: VaultEnv;
  beforeAll(async () => {
    t = await setUpVaultEnv('vault');
  });
  afterAll(() => t.teardown());
  beforeEach(() => t.env.sandbox.resetCounts());

  async function dumpPrefix(): Promise<string> {
    const keys = await t.redis.keys(`${t.prefix}*`);
    const parts: string[] = [...keys];
    for (const key of keys) {
      const type = await t.redis.type(key);
      if (type === 'hash') parts.push(...Object.values(await t.redis.hgetall(key)));
      if (type === 'string') parts.push(String(await t.redis.get(key)));
    }
    return parts.join('\n');
  }

  test('Redis holds neither the tokens, nor the user id, nor the email', async () => {
    const email = `at-rest-${Date.now()}@example.com`;
    const { uid, tokenSet } = await t.env.signIn(email);
    const vault = t.vault();
    await vault.saveTokens(uid, tokenSet);
    await vault.saveTokens(email, tokenSet);
    const everything = await dumpPrefix();
    expect(everything.length).toBeGreaterThan(0);
    for (const secret of [tokenSet.accessToken, tokenSet.refreshToken as string, uid, email, 'at-rest']) {
      expect(everything).not.toContain(secret);
    }
    expect((await vault.getTokenSet(uid))?.accessToken).toBe(tokenSet.accessToken);
  });

  test("a record copied under another user's key does not open (the user id is bound to the ciphertext)", async () => {
    const vault = t.vault();
    const { uid, tokenSet } = await t.env.signIn();
    await vault.saveTokens(uid, tokenSet);
    const stolen = await t.redis.hget(t.store.keysFor(uid).tokens, 'd');
    await t.store.set('mallory', stolen as string, 60_000);
    await expect(vault.getTokenSet('mallory')).rejects.toMatchObject({ code: ErrorCode.REAUTHENTICATION_REQUIRED });
  });

  test('key rotation: tokens written under an old key still decrypt; new writes use the new key', async () => {
    const oldKey = generateEncryptionKey();
    const newKey = generateEncryptionKey();
    const before = t.vault({ encryptionKeys: [oldKey] });
    const after = t.vault({ encryptionKeys: [newKey, oldKey] });
    const { uid, tokenSet } = await t.env.signIn();
    await before.saveTokens(uid, expired(tokenSet));
    const envelope = async () => (await t.redis.hget(t.store.keysFor(uid).tokens, 'd')) as string;
    expect(after.keyring.keyIdOf(await envelope())).toBe(createKeyring(oldKey).currentKeyId);

    // The rotated vault reads the old record and refreshes it; the rewrite uses the new key.
    const token = await after.getAccessToken(uid);
    expect(token).not.toBe(tokenSet.accessToken);
    expect(after.keyring.keyIdOf(await envelope())).toBe(createKeyring(newKey).currentKeyId);
    expect(await after.getAccessToken(uid)).toBe(token);
    expect(t.env.sandbox.counts().token.refresh_token).toBe(1);
  });

  test('the record TTL is the refresh token lifetime (recordTtlMs), renewed by every refresh', async () => {
    const vault = t.vault({ recordTtlMs: 3_600_000 });
    const { uid, tokenSet } = await t.env.signIn();
    await vault.saveTokens(uid, expired(tokenSet));
    const { tokens } = t.store.keysFor(uid);
    await t.redis.pexpire(tokens, 10_000);
    await vault.getAccessToken(uid);
    const ttl = await t.redis.pttl(tokens);
    expect(ttl).toBeGreaterThan(3_500_000);
    expect(ttl).toBeLessThanOrEqual(3_600_000);
  });

  test('a token set without a refresh token is kept only as long as its access token lives', async () => {
    const vault = t.vault();
    const { uid, tokenSet } = await t.env.signIn();
    const { refreshToken: _drop, ...appToken } = { ...tokenSet, expiresAt: Date.now() + 60_000 };
    await vault.saveTokens(uid, appToken);
    const ttl = await t.redis.pttl(t.store.keysFor(uid).tokens);
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });

  test('a new sign-in replaces the stored grant', async () => {
    const vault = t.vault();
    const first = await t.env.signIn();
    await vault.saveTokens(first.uid, first.tokenSet);
    const { tokenSet: second } = await t.env.signIn(t.env.sandbox.users.get(first.uid)!.email);
    await vault.saveTokens(first.uid, second);
    expect(await vault.getAccessToken(first.uid)).toBe(second.accessToken);
  });

  test('revoke forgets the user’s tokens', async () => {
    const vault = t.vault();
    const { uid, tokenSet } = await t.env.signIn();
    await vault.saveTokens(uid, tokenSet);
    await vault.revoke(uid);
    expect(await vault.getTokenSet(uid)).toBeNull();
    await expect(vault.getAccessToken(uid)).rejects.toMatchObject({ code: ErrorCode.REAUTHENTICATION_REQUIRED });
  });

  test('MemoryTokenStore serves a single-process app with the same single-flight refresh', async () => {
    const store = new MemoryTokenStore();
    const vault = t.vault({ store });
    const { uid, tokenSet } = await t.env.signIn();
    await vault.saveTokens(uid, expired(tokenSet));
    t.env.sandbox.resetCounts();
    const tokens = await Promise.all(Array.from({ length: 20 }, () => vault.getAccessToken(uid)));
    expect(new Set(tokens).size).toBe(1);
    expect(t.env.sandbox.counts().token.refresh_token).toBe(1);
    await store.close();
  });

  test('MemoryTokenStore: four vaults sharing it contend for its lock, and its lock alone keeps it to 1 refresh', async () => {
    // One vault shares a refresh among its own callers before the store is asked; four vaults
    // (four independent refreshers) all reach acquireLock, so the store's lock is what decides.
    const store = new MemoryTokenStore();
    const vaults = [0, 1, 2, 3].map(() => t.vault({ store }));
    const { uid, tokenSet } = await t.env.signIn();
    await (vaults[0] as (typeof vaults)[0]).saveTokens(uid, expired(tokenSet));
    t.env.sandbox.resetCounts();
    t.env.sandbox.injectFault('token', { kind: 'delay', ms: 400, times: 1 });
    const storm = Promise.all(vaults.flatMap((vault) => Array.from({ length: 10 }, () => vault.getAccessToken(uid))));
    // While the refresh is in flight every vault has asked for the lock, and it is held.
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(await store.acquireLock(uid, 1000)).toBeNull();
    const tokens = await storm;
    expect(new Set(tokens).size).toBe(1);
    expect(tokens[0]).not.toBe(tokenSet.accessToken);
    expect(t.env.sandbox.counts().token).toMatchObject({ refresh_token: 1, failed: 0 });
    await store.close();
  });

  test.each([
    ['no store', { store: undefined }],
    ['no encryption key', { encryptionKeys: [] }],
    ['a weak encryption key', { encryptionKeys: 'password123' }],
    ['no client secret', { clientSecret: '' }],
    ['an absolute signInPath', { signInPath: 'https://evil.example/login' }],
    ['a realm with quotes', { realm: 'a"b' }],
  ])('configuration with %s is refused with a clear error', (_label, override) => {
    const options = { store: t.store, encryptionKeys: t.encryptionKeys, clientID: 'id', clientSecret: 'secret', ...override };
    expect(() => createFractalVault(options as never)).toThrow(expect.objectContaining({ code: ErrorCode.CONFIGURATION }));
  });
});
