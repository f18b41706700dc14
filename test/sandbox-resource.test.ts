import { startSandbox, type Sandbox, type SandboxEmailChangedEvent, type SandboxVerificationChangedEvent } from '../lib/sandbox';
import { refreshRequest, registerTestClient, resourceGet, signIn, tokenRequest, type TestClient } from './helpers/sandbox';

const WALLET = '0x52908400098527886E0F7030069857D2E4169EE7';

describe('sandbox resource server', () => {
  let sandbox: Sandbox;
  let client: TestClient;

  beforeAll(async () => {
    sandbox = await startSandbox();
    client = registerTestClient(sandbox);
  });
  afterAll(() => sandbox.close());

  describe('GET /v2/users/me', () => {
    it('returns only the uid for the default scope', async () => {
      const token = await signIn(sandbox, client, { decision: { email: 'only-uid@example.com' } });
      const res = await resourceGet(sandbox, '/v2/users/me', token.access_token);
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.body).toEqual({ uid: sandbox.users.findByEmail('only-uid@example.com')?.uid });
    });

    it('adds emails and phones with contact:read', async () => {
      const token = await signIn(sandbox, client, { scope: 'uid:read contact:read', decision: { email: 'carol@example.com' } });
      const uid = sandbox.users.findByEmail('carol@example.com')?.uid as string;
      sandbox.users.setPhones(uid, ['+4915112345678']);
      const res = await resourceGet(sandbox, '/v2/users/me', token.access_token);
      expect(res.body).toEqual({
        uid,
        emails: [{ address: 'carol@example.com', source_type: 'registration' }],
        phones: [{ number: '+4915112345678' }],
      });
    });

    it('shows verification cases of granted status scopes, with details only for granted details scopes', async () => {
      const scope = 'verification.basic:read verification.basic.details:read verification.liveness:read';
      const token = await signIn(sandbox, client, { scope, decision: { email: 'dave@example.com' } });
      const res = await resourceGet(sandbox, '/v2/users/me', token.access_token);
      const cases = res.body.verification_cases as Record<string, unknown>[];
      expect(cases).toHaveLength(2);
      expect(cases[0]).toEqual({
        id: expect.any(String),
        level: 'basic',
        status: 'pending',
        credential: 'pending',
        journey_completed: false,
        details: expect.objectContaining({ full_name: 'Dave Example', date_of_birth: expect.any(String), identification_document_country: 'DE' }),
      });
      expect(cases[1]).toEqual({ id: expect.any(String), level: 'liveness', status: 'pending', credential: 'pending', journey_completed: false });
      expect(res.body.wallets).toBeUndefined();
    });

    it('gives institutions institution details instead of person details (plus-level fields in the docs)', async () => {
      const token = await signIn(sandbox, client, {
        scope: 'verification.plus:read verification.plus.details:read',
        decision: { email: 'acme@example.com', userType: 'institution' },
      });
      const [basic] = (await resourceGet(sandbox, '/v2/users/me', token.access_token)).body.verification_cases as { details: Record<string, unknown> }[];
      expect(basic?.details).toEqual(expect.objectContaining({ company_name: expect.any(String), legal_form: expect.any(String) }));
      expect(basic?.details.full_name).toBeUndefined();
    });

    it('reflects verification changes and lists wallets for wallet scopes', async () => {
      const token = await signIn(sandbox, client, {
        scope: 'verification.basic:read verification.wallet-eth:read',
        decision: { email: 'erin@example.com', wallet: WALLET },
      });
      const uid = sandbox.users.findByEmail('erin@example.com')?.uid as string;
      sandbox.users.setVerification(uid, 'basic', { status: 'done', credential: 'approved' });
      const body = (await resourceGet(sandbox, '/v2/users/me', token.access_token)).body;
      expect(body.verification_cases).toEqual([
        expect.objectContaining({ level: 'basic', status: 'done', credential: 'approved', journey_completed: true }),
        expect.objectContaining({ level: 'wallet-eth', status: 'pending' }),
      ]);
      expect(body.wallets).toEqual([{ id: expect.any(String), address: WALLET, currency: 'eth', verified: false }]);
    });

    it('answers 401 invalid_token with a Bearer challenge for a missing, unknown or expired token', async () => {
      for (const token of [undefined, 'not-a-token']) {
        const res = await resourceGet(sandbox, '/v2/users/me', token);
        expect(res.status).toBe(401);
        expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="[^"]+", error="invalid_token"/);
        expect(res.body).toEqual({ error: 'invalid_token', error_description: 'The access token is invalid' });
      }
      sandbox.setTokenLifetimes({ accessToken: 0 });
      try {
        const token = await signIn(sandbox, client);
        expect((await resourceGet(sandbox, '/v2/users/me', token.access_token)).body.error_description).toBe('The access token expired');
      } finally {
        sandbox.setTokenLifetimes({ accessToken: 7200 });
      }
    });

    it('answers 403 insufficient_scope for an app token', async () => {
      const app = await tokenRequest(sandbox, { grant_type: 'client_credentials', scope: 'client.stats:read' }, { basic: client });
      const res = await resourceGet(sandbox, '/v2/users/me', app.body.access_token as string);
      expect(res).toMatchObject({ status: 403, body: { error: 'insufficient_scope' } });
    });
  });

  describe('revokeGrant', () => {
    it('makes the access token answer 401 and the refresh token invalid_grant', async () => {
      const token = await signIn(sandbox, client, { decision: { email: 'frank@example.com' } });
      const uid = sandbox.users.findByEmail('frank@example.com')?.uid as string;
      sandbox.revokeGrant(uid);
      const res = await resourceGet(sandbox, '/v2/users/me', token.access_token);
      expect(res).toMatchObject({ status: 401, body: { error_description: 'The access token was revoked' } });
      expect((await refreshRequest(sandbox, client, token.refresh_token)).body.error).toBe('invalid_grant');
    });

    it('revokes only the named client when one is given', async () => {
      const other = registerTestClient(sandbox);
      const mine = await signIn(sandbox, client, { decision: { email: 'gina@example.com' } });
      const theirs = await signIn(sandbox, other, { decision: { email: 'gina@example.com' } });
      sandbox.revokeGrant(sandbox.users.findByEmail('gina@example.com')?.uid as string, other.clientID);
      expect((await resourceGet(sandbox, '/v2/users/me', mine.access_token)).status).toBe(200);
      expect((await resourceGet(sandbox, '/v2/users/me', theirs.access_token)).status).toBe(401);
    });
  });

  describe('users API events', () => {
    it('emits verification_changed and email_changed for the webhook sender', async () => {
      await signIn(sandbox, client, { decision: { email: 'hank@example.com' } });
      const uid = sandbox.users.findByEmail('hank@example.com')?.uid as string;
      const verifications: SandboxVerificationChangedEvent[] = [];
      const emails: SandboxEmailChangedEvent[] = [];
      sandbox.events.on('verification_changed', (e: SandboxVerificationChangedEvent) => verifications.push(e));
      sandbox.events.on('email_changed', (e: SandboxEmailChangedEvent) => emails.push(e));
      sandbox.users.setVerification(uid, 'plus', { status: 'contacted' });
      sandbox.users.setEmail(uid, 'hank2@example.com');
      expect(verifications).toEqual([{ user_id: uid, level: 'plus', status: 'contacted', credential: 'pending', timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) }]);
      expect(emails).toEqual([{ user_id: uid, email: 'hank2@example.com' }]);
      expect(sandbox.users.get(uid)?.email).toBe('hank2@example.com');
      sandbox.events.removeAllListeners();
    });

    it('rejects unknown users and levels with a SandboxError', () => {
      expect(() => sandbox.users.setVerification('nobody', 'basic')).toThrow(expect.objectContaining({ code: 'unknown_user' }));
      const uid = sandbox.users.ensure({ email: 'ivy@example.com' }).uid;
      expect(() => sandbox.users.setVerification(uid, 'platinum')).toThrow(expect.objectContaining({ code: 'invalid_level' }));
    });

    it('returns snapshots that do not change the sandbox', () => {
      const user = sandbox.users.ensure({ email: 'jo@example.com', country: 'FR' });
      user.email = 'changed@example.com';
      expect(sandbox.users.get(user.uid)?.email).toBe('jo@example.com');
      expect(sandbox.users.addWallet(user.uid, { address: 'bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq' }).currency).toBe('btc');
    });
  });
});

describe('sandbox statistics API', () => {
  let sandbox: Sandbox;
  let client: TestClient;
  let appToken: string;

  beforeAll(async () => {
    sandbox = await startSandbox();
    client = registerTestClient(sandbox);
    const a = sandbox.users.ensure({ email: 'a@example.com' }).uid;
    const b = sandbox.users.ensure({ email: 'b@example.com', country: 'FR' }).uid;
    sandbox.users.setVerification(a, 'basic', { status: 'done', credential: 'approved' });
    sandbox.users.setVerification(a, 'liveness', { status: 'done', credential: 'rejected' });
    sandbox.users.setVerification(b, 'basic', { status: 'contacted' });
    sandbox.users.setVerification(b, 'plus');
    const res = await tokenRequest(sandbox, { grant_type: 'client_credentials', scope: 'client.stats:read' }, { basic: client });
    appToken = res.body.access_token as string;
  });
  afterAll(() => sandbox.close());

  it('counts verification cases by status', async () => {
    const res = await resourceGet(sandbox, '/v2/stats/total-verifications', appToken);
    expect(res).toMatchObject({ status: 200, body: { approved: 1, rejected: 1, contacted: 1, pending: 1 } });
  });

  it('counts verification cases per country', async () => {
    const res = await resourceGet(sandbox, '/v2/stats/country-verifications', appToken);
    // Only the statuses a country has, like the docs' `"DK": {"approved": 12}`.
    expect(res.body).toEqual({ DE: { approved: 1, rejected: 1 }, FR: { contacted: 1, pending: 1 } });
  });

  it('lists every user and level as an array of {user_id, level, credential}, without parameters', async () => {
    const a = sandbox.users.findByEmail('a@example.com')?.uid as string;
    const b = sandbox.users.findByEmail('b@example.com')?.uid as string;
    const res = await resourceGet(sandbox, '/v2/stats/user-verifications', appToken);
    expect(res.status).toBe(200);
    expect(Array.isArray(res.body)).toBe(true);
    expect(res.body).toEqual(
      expect.arrayContaining([
        { user_id: a, level: 'basic', credential: 'approved' },
        { user_id: a, level: 'liveness', credential: 'rejected' },
        { user_id: b, level: 'basic', credential: 'contacted' },
        { user_id: b, level: 'plus', credential: 'pending' },
      ]),
    );
    expect(res.body).toHaveLength(4);
  });

  it('answers 403 insufficient_scope for a user token and 401 without a token', async () => {
    const user = await signIn(sandbox, client);
    const res = await resourceGet(sandbox, '/v2/stats/total-verifications', user.access_token);
    expect(res).toMatchObject({ status: 403, body: { error: 'insufficient_scope' } });
    expect(res.headers.get('www-authenticate')).toContain('scope="client.stats:read"');
    expect((await resourceGet(sandbox, '/v2/stats/total-verifications')).status).toBe(401);
  });
});
