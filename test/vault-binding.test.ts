import { ErrorCode } from '../lib/errors';
import { openRecord, seal, sealRecord } from '../lib/tokens/codec';
import { setUpVaultEnv, type VaultEnv } from './helpers/vault-setup';

/** What format 1 stored (before client id, key id and version were bound): the user id only. */
function legacyEnvelope(t: VaultEnv, userId: string, plain: object): string {
  return t.vault().keyring.encrypt(JSON.stringify(plain), `passport-fractal-id/tokens/v1\0${userId}`);
}

describe('vault record binding (client id, key id, record name, format version)', () => {
  let t: VaultEnv;
  beforeAll(async () => {
    t = await setUpVaultEnv('binding');
  });
  afterAll(() => t.teardown());

  const raw = async (uid: string) => (await t.redis.hget(t.store.keysFor(uid).tokens, 'd')) as string;

  test("a record written by another app with the same key and user id does not open: reauthentication, not a crash", async () => {
    const { uid, tokenSet } = await t.env.signIn();
    await t.vault({ clientID: 'another-app' }).saveTokens(uid, tokenSet);
    const ours = t.vault();
    t.env.sandbox.resetCounts();
    await expect(ours.getTokenSet(uid)).rejects.toMatchObject({ code: ErrorCode.REAUTHENTICATION_REQUIRED });
    await expect(ours.getAccessToken(uid)).rejects.toMatchObject({ code: ErrorCode.REAUTHENTICATION_REQUIRED, status: 401 });
    // Nothing was sent to the provider with another app's refresh token.
    expect(t.env.sandbox.counts().token.refresh_token).toBe(0);
  });

  test("an app token's envelope (other purpose) under a user's name does not open as user tokens", async () => {
    const keyring = t.vault().keyring;
    const { uid, tokenSet } = await t.env.signIn();
    const plain = JSON.stringify({ a: tokenSet.accessToken, e: tokenSet.expiresAt, s: tokenSet.scopes, o: Date.now() });
    await t.store.set(uid, seal(keyring, { purpose: 'app-token', clientID: t.env.client.clientID, name: uid }, plain), 60_000);
    await expect(t.vault().getTokenSet(uid)).rejects.toMatchObject({ code: ErrorCode.REAUTHENTICATION_REQUIRED });
  });

  test('a format-1 record is read once, then rewritten in the current format', async () => {
    const { uid, tokenSet } = await t.env.signIn();
    const plain = { a: tokenSet.accessToken, r: tokenSet.refreshToken, e: tokenSet.expiresAt, s: tokenSet.scopes, o: Date.now() };
    const before = await t.store.set(uid, legacyEnvelope(t, uid, plain), 60_000);
    const vault = t.vault();
    expect((await vault.getTokenSet(uid))?.accessToken).toBe(tokenSet.accessToken);
    const migrated = await t.store.get(uid);
    expect(migrated?.version).toBeGreaterThan(before);
    // Opens in the current format only (no legacy fallback), with the same tokens.
    const opened = openRecord(vault.keyring, { clientID: t.env.client.clientID, userId: uid }, await raw(uid), false);
    expect(opened).toMatchObject({ legacy: false, tokenSet: { accessToken: tokenSet.accessToken, refreshToken: tokenSet.refreshToken } });
    // Read again: no second rewrite.
    expect(await vault.getAccessToken(uid)).toBe(tokenSet.accessToken);
    expect((await t.store.get(uid))?.version).toBe(migrated?.version);
  });

  test("legacyRecords: 'refuse' does not open format-1 records", async () => {
    const { uid, tokenSet } = await t.env.signIn();
    await t.store.set(uid, legacyEnvelope(t, uid, { a: tokenSet.accessToken, e: tokenSet.expiresAt, s: [], o: Date.now() }), 60_000);
    await expect(t.vault({ legacyRecords: 'refuse' }).getTokenSet(uid)).rejects.toMatchObject({ code: ErrorCode.REAUTHENTICATION_REQUIRED });
    expect(() => t.vault({ legacyRecords: 'maybe' as 'refuse' })).toThrow(expect.objectContaining({ code: 'configuration_error' }));
  });

  test('records of the current format open for the app that wrote them', async () => {
    const { uid, tokenSet } = await t.env.signIn();
    const vault = t.vault();
    await t.store.set(uid, sealRecord(vault.keyring, { clientID: t.env.client.clientID, userId: uid }, { tokenSet, obtainedAt: Date.now() }), 60_000);
    expect((await vault.getTokenSet(uid))?.refreshToken).toBe(tokenSet.refreshToken);
  });
});
