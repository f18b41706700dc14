import { startSandbox, type Sandbox } from '../lib/sandbox';
import {
  REDIRECT_URI,
  authorizeUrl,
  codeOf,
  consentForm,
  exchangeCode,
  postDecision,
  queryOf,
  registerTestClient,
  type TestClient,
} from './helpers/sandbox';

const WALLET = '0x52908400098527886E0F7030069857D2E4169EE7';
const get = (url: string) => fetch(url, { redirect: 'manual' });

describe('sandbox authorization endpoint (frontend origin)', () => {
  let sandbox: Sandbox;
  let client: TestClient;

  beforeAll(async () => {
    sandbox = await startSandbox();
    client = registerTestClient(sandbox);
  });
  afterAll(() => sandbox.close());

  describe('consent page', () => {
    it('lists the requested scopes as ticked checkboxes and prefills ensure_wallet', async () => {
      const res = await get(authorizeUrl(sandbox, client, { scope: 'uid:read contact:read verification.basic:read', ensure_wallet: WALLET }));
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      const html = await res.text();
      expect(html).toContain('Test app');
      expect(html).toContain('<input type="checkbox" name="scope" value="contact:read" id="scope-0" checked>');
      expect(html).toContain('value="verification.basic:read"');
      expect(html).toContain('uid:read</code>');
      expect(html).toContain(`name="wallet" id="wallet" value="${WALLET}"`);
      expect(html).toMatch(/may change it or leave the field empty/);
      expect(html).toContain('name="decision" value="approve"');
      expect(html).toContain('name="decision" value="deny"');
      expect(html).toContain('name="user_type" value="institution"');
      expect(html).toContain('name="email"');
      expect(html).not.toContain('<script');
    });

    it('escapes values reflected into the page', async () => {
      const evil = sandbox.registerClient({ redirectUris: [REDIRECT_URI], name: '<img src=x onerror=alert(1)>' });
      const html = await (await get(authorizeUrl(sandbox, { ...evil, redirectUri: REDIRECT_URI }, { state: '"><script>x</script>' }))).text();
      expect(html).not.toContain('<img src=x');
      expect(html).not.toContain('<script>x');
      expect(html).toContain('&#60;img src=x');
    });
  });

  describe('requests that cannot be redirected (RFC 6749 section 4.1.2.1)', () => {
    it('shows an error page for an unknown client and does not redirect', async () => {
      const res = await get(authorizeUrl(sandbox, { ...client, clientID: 'nope' }));
      expect(res.status).toBe(400);
      expect(res.headers.get('location')).toBeNull();
      expect(await res.text()).toContain('invalid_client');
    });

    it('shows an error page when redirect_uri differs from the registered one by a single character', async () => {
      for (const redirectUri of [`${REDIRECT_URI}/`, REDIRECT_URI.replace('127.0.0.1', 'localhost'), `${REDIRECT_URI}?x=1`, 'https://evil.example/cb']) {
        const res = await get(authorizeUrl(sandbox, { ...client, redirectUri }));
        expect(res.status).toBe(400);
        expect(res.headers.get('location')).toBeNull();
        expect(await res.text()).toContain('invalid_redirect_uri');
      }
    });

    it('shows an error page when redirect_uri is missing', async () => {
      const res = await get(authorizeUrl(sandbox, client, { redirect_uri: undefined }).replace(/&redirect_uri=[^&]*/, ''));
      expect(res.status).toBe(400);
      expect(res.headers.get('location')).toBeNull();
    });

    it('makes sandbox.authorize() throw instead of returning a Location', async () => {
      await expect(sandbox.authorize(authorizeUrl(sandbox, { ...client, clientID: 'nope' }))).rejects.toMatchObject({ code: 'invalid_client' });
    });
  });

  describe('errors redirected to the client', () => {
    const cases: [string, string, Record<string, string | undefined>][] = [
      ['missing state', 'invalid_request', { state: undefined }],
      ['response_type other than code', 'unsupported_response_type', { response_type: 'token' }],
      ['missing response_type', 'invalid_request', { response_type: undefined }],
      ['unknown scope', 'invalid_scope', { scope: 'uid:read verification.platinum:read' }],
      ['client-only scope in a user request', 'invalid_scope', { scope: 'client.stats:read' }],
      ['unsupported code_challenge_method', 'invalid_request', { code_challenge: 'a'.repeat(43), code_challenge_method: 'S512' }],
      ['code_challenge without method', 'invalid_request', { code_challenge: 'a'.repeat(43) }],
      ['too short code_challenge', 'invalid_request', { code_challenge: 'abc', code_challenge_method: 'S256' }],
    ];
    it.each(cases)('%s redirects with error=%s', async (_name, error, params) => {
      const res = await get(authorizeUrl(sandbox, client, params));
      expect(res.status).toBe(302);
      const location = res.headers.get('location') as string;
      expect(location.startsWith(`${REDIRECT_URI}?`)).toBe(true);
      const query = queryOf(location);
      expect(query.error).toBe(error);
      expect(query.error_description).toEqual(expect.any(String));
      expect(query.code).toBeUndefined();
      if (params.state === undefined && 'state' in params) expect(query.state).toBeUndefined();
      else expect(query.state).toBe('state-123');
    });

    it('rejects repeated parameters (RFC 6749 section 3.1)', async () => {
      const res = await get(`${authorizeUrl(sandbox, client)}&scope=uid:read&scope=contact:read`);
      expect(queryOf(res.headers.get('location') as string).error).toBe('invalid_request');
    });

    it('keeps the query of a registered redirect URI and appends to it', async () => {
      const withQuery = registerTestClient(sandbox, 'https://app.example/cb?tenant=a');
      const location = await sandbox.authorize(authorizeUrl(sandbox, withQuery));
      expect(location).toMatch(/^https:\/\/app\.example\/cb\?tenant=a&code=[^&]+&state=state-123$/);
    });
  });

  describe('consent form', () => {
    it('redirects with a code and the state when the user approves', async () => {
      const html = await (await get(authorizeUrl(sandbox, client, { scope: 'uid:read contact:read' }))).text();
      const form = consentForm(html);
      form.set('decision', 'approve');
      const res = await postDecision(sandbox, form);
      expect(res.status).toBe(302);
      const query = queryOf(res.headers.get('location') as string);
      expect(query).toEqual({ code: expect.any(String), state: 'state-123' });
      const token = await exchangeCode(sandbox, client, query.code as string);
      expect(token.body.scope).toBe('uid:read contact:read');
    });

    it('redirects with error=access_denied and the state when the user denies', async () => {
      const form = consentForm(await (await get(authorizeUrl(sandbox, client))).text());
      form.set('decision', 'deny');
      form.set('email', '');
      const res = await postDecision(sandbox, form);
      expect(res.status).toBe(302);
      const query = queryOf(res.headers.get('location') as string);
      expect(query).toEqual({ error: 'access_denied', error_description: expect.any(String), state: 'state-123' });
    });

    it('grants only the ticked scopes, plus uid:read which cannot be unticked', async () => {
      const form = consentForm(await (await get(authorizeUrl(sandbox, client, { scope: 'contact:read verification.basic:read' }))).text());
      form.delete('scope');
      form.append('scope', 'verification.basic:read');
      form.append('scope', 'verification.plus:read'); // not requested: ignored
      form.set('decision', 'approve');
      const location = (await postDecision(sandbox, form)).headers.get('location') as string;
      const token = await exchangeCode(sandbox, client, codeOf(location));
      expect(token.body.scope).toBe('uid:read verification.basic:read');
    });

    it('records the user type, email and wallet typed at consent', async () => {
      const form = consentForm(await (await get(authorizeUrl(sandbox, client, { scope: 'verification.basic:read verification.wallet-eth:read', ensure_wallet: WALLET }))).text());
      form.set('user_type', 'institution');
      form.set('email', 'acme@example.com');
      form.set('decision', 'approve');
      expect((await postDecision(sandbox, form)).status).toBe(302);
      const user = sandbox.users.findByEmail('acme@example.com');
      expect(user).toMatchObject({ userType: 'institution', country: 'DE', wallets: [{ address: WALLET, currency: 'eth', verified: false }] });
      expect(user?.verificationCases.map((c) => [c.level, c.status, c.credential, c.journeyCompleted])).toEqual([
        ['basic', 'pending', 'pending', false],
        ['wallet-eth', 'pending', 'pending', false],
      ]);
    });

    it('rejects a form whose hidden request was tampered with', async () => {
      const html = await (await get(authorizeUrl(sandbox, client))).text();
      const other = registerTestClient(sandbox, 'http://127.0.0.1:4000/cb');
      const tampered: [string, string][] = [
        ['redirect_uri', 'http://127.0.0.1:4000/cb'],
        ['client_id', other.clientID],
        ['requested_scope', 'uid:read contact:read'],
        ['state', 'forged'],
        ['mac', 'AAAA'],
      ];
      for (const [field, value] of tampered) {
        const form = consentForm(html);
        form.set(field, value);
        form.set('decision', 'approve');
        const res = await postDecision(sandbox, form);
        expect(res.status).toBe(400);
        expect(res.headers.get('location')).toBeNull();
        expect(await res.text()).toContain('was modified');
      }
      const withoutMac = consentForm(html);
      withoutMac.delete('mac');
      withoutMac.set('decision', 'approve');
      expect((await postDecision(sandbox, withoutMac)).status).toBe(400);
    });

    it('answers 400 for an invalid email or a missing decision', async () => {
      const html = await (await get(authorizeUrl(sandbox, client))).text();
      const badEmail = consentForm(html);
      badEmail.set('email', 'not-an-email');
      badEmail.set('decision', 'approve');
      expect((await postDecision(sandbox, badEmail)).status).toBe(400);
      expect((await postDecision(sandbox, consentForm(html))).status).toBe(400);
    });
  });

  describe('sandbox.authorize()', () => {
    it('maps the same email to the same uid across sign-ins', async () => {
      await sandbox.authorize(authorizeUrl(sandbox, client), { email: 'bob@example.com' });
      await sandbox.authorize(authorizeUrl(sandbox, client), { email: 'BOB@example.com' });
      expect(sandbox.users.list().filter((u) => u.email.toLowerCase() === 'bob@example.com')).toHaveLength(1);
    });

    it('refuses a URL of another origin, which reveals a mis-wired app', async () => {
      const wrong = authorizeUrl(sandbox, client).replace(sandbox.domains.frontend, sandbox.domains.auth);
      await expect(sandbox.authorize(wrong)).rejects.toMatchObject({ code: 'invalid_authorize_url' });
    });

    it('denies with access_denied when approve is false', async () => {
      const location = await sandbox.authorize(authorizeUrl(sandbox, client), { approve: false });
      expect(queryOf(location)).toMatchObject({ error: 'access_denied', state: 'state-123' });
    });
  });

  it('serves only the authorization endpoint on the frontend origin', async () => {
    const res = await fetch(`${sandbox.domains.frontend}/oauth/token`, { method: 'POST' });
    expect(res.status).toBe(404);
  });
});

describe('sandbox autoApprove', () => {
  it('approves GET /authorize at once as the default user', async () => {
    const sandbox = await startSandbox({ autoApprove: true });
    try {
      const client = registerTestClient(sandbox);
      const res = await get(authorizeUrl(sandbox, client, { scope: 'contact:read' }));
      expect(res.status).toBe(302);
      const location = res.headers.get('location') as string;
      expect(queryOf(location).state).toBe('state-123');
      const token = await exchangeCode(sandbox, client, codeOf(location));
      expect(token.body.scope).toBe('uid:read contact:read');
      expect(sandbox.users.findByEmail('alice@example.com')).toBeDefined();
    } finally {
      await sandbox.close();
    }
  });
});
