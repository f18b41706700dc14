import express, { type Express } from 'express';
import request from 'supertest';
import { ErrorCode, isFractalError } from '../lib/errors';
import { createKeyring, generateEncryptionKey, type FractalVault } from '../lib/tokens';
import { expectSignInRedirect, expectUnauthorizedJson } from './helpers/vault-http';
import { expired } from './helpers/vault-sandbox';
import { setUpVaultEnv, type VaultEnv } from './helpers/vault-setup';

/**
 * The last step of key rotation (lib/tokens/keyring.ts): the old key is dropped from
 * `encryptionKeys` while some record sealed under it is still stored. That user is signed out
 * (reauthentication, never a crash or a 5xx), nothing is sent to the provider, no error carries a
 * token, the envelope or a key, and the record is kept, so that a deploy putting the key back
 * restores it. A new sign-in replaces it under the new key.
 */
const HTML = 'text/html,application/xhtml+xml;q=0.9,*/*;q=0.8';

function buildApp(vault: FractalVault): Express {
  const app = express();
  app.use(vault.middleware());
  app.get('/dashboard', vault.require(), async (req, res) => {
    res.json({ token: await req.fractal!.getAccessToken() });
  });
  return app;
}

describe('a record sealed under a key removed from encryptionKeys', () => {
  let t: VaultEnv;
  beforeAll(async () => {
    t = await setUpVaultEnv('key-removed');
  });
  afterAll(() => t.teardown());

  const oldKey = generateEncryptionKey();
  const newKey = generateEncryptionKey();
  const userFromHeader = { userId: (req: express.Request) => req.get('x-uid') };

  async function sealedUnderOldKey(expire: boolean) {
    const { uid, tokenSet } = await t.env.signIn();
    await t.vault({ encryptionKeys: [oldKey] }).saveTokens(uid, expire ? expired(tokenSet) : tokenSet);
    const envelope = (await t.redis.hget(t.store.keysFor(uid).tokens, 'd')) as string;
    expect(createKeyring([newKey, oldKey]).keyIdOf(envelope)).toBe(createKeyring(oldKey).currentKeyId);
    t.env.sandbox.resetCounts();
    return { uid, tokenSet, envelope };
  }

  test.each([
    ['still valid', false],
    ['expired (a refresh would be due)', true],
  ])('%s: every read asks for sign-in again, nothing reaches the provider, no error leaks', async (_label, expire) => {
    const { uid, tokenSet, envelope } = await sealedUnderOldKey(expire);
    const vault = t.vault({ encryptionKeys: [newKey], ...userFromHeader });
    const secrets = [tokenSet.accessToken, tokenSet.refreshToken as string, envelope, envelope.split('.')[4] as string, oldKey, newKey];

    const failures = await Promise.all([
      vault.getAccessToken(uid).catch((err: unknown) => err),
      vault.getTokenSet(uid).catch((err: unknown) => err),
      vault.fetchUser(uid).catch((err: unknown) => err),
    ]);
    for (const err of failures) {
      expect(isFractalError(err)).toBe(true);
      expect(err).toMatchObject({ code: ErrorCode.REAUTHENTICATION_REQUIRED, status: 401 });
      const e = err as Error & { toJSON(): unknown; cause?: unknown };
      const shown = [e.message, JSON.stringify(e.toJSON()), String(e.stack), String(e.cause), String((e.cause as Error | undefined)?.stack)].join('\n');
      for (const secret of secrets) expect(shown).not.toContain(secret);
    }
    expect(t.env.sandbox.counts()).toMatchObject({ userinfo: 0, token: { refresh_token: 0, failed: 0 } });

    // Over HTTP: a browser goes to sign-in, an API client gets 401 with a challenge; never 5xx.
    const app = buildApp(vault);
    expectSignInRedirect(await request(app).get('/dashboard').set('x-uid', uid).set('Accept', HTML), '/dashboard');
    const api = await request(app).get('/dashboard').set('x-uid', uid).set('Accept', 'application/json');
    expectUnauthorizedJson(api, ErrorCode.REAUTHENTICATION_REQUIRED);
    for (const secret of secrets) expect(api.text + JSON.stringify(api.headers)).not.toContain(secret);
    expect(t.env.sandbox.counts()).toMatchObject({ userinfo: 0, token: { refresh_token: 0, failed: 0 } });

    // Kept, not deleted: putting the old key back (a rollback of the deploy) restores the user.
    expect(await t.redis.hget(t.store.keysFor(uid).tokens, 'd')).toBe(envelope);
    expect((await t.vault({ encryptionKeys: [newKey, oldKey] }).getTokenSet(uid))?.refreshToken).toBe(tokenSet.refreshToken);
  });

  test('a new sign-in replaces the unreadable record under the new key', async () => {
    const { uid } = await sealedUnderOldKey(false);
    const vault = t.vault({ encryptionKeys: [newKey] });
    await expect(vault.getAccessToken(uid)).rejects.toMatchObject({ code: ErrorCode.REAUTHENTICATION_REQUIRED });
    const { tokenSet: fresh } = await t.env.signIn(t.env.sandbox.users.get(uid)!.email);
    await vault.saveTokens(uid, fresh);
    expect(await vault.getAccessToken(uid)).toBe(fresh.accessToken);
    const envelope = (await t.redis.hget(t.store.keysFor(uid).tokens, 'd')) as string;
    expect(vault.keyring.keyIdOf(envelope)).toBe(createKeyring(newKey).currentKeyId);
  });
});
