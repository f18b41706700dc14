import { randomBytes } from 'node:crypto';
import type { Express } from 'express';
import { startSandbox, type Sandbox, type SandboxCredentials } from '../lib/sandbox';
import { isFractalError, createFractalVault, MemoryTokenStore, type FractalVault } from '../lib';
import { fetchFractalUser, TokenClient } from '../lib/provider';
import { buildApp, callbackPathOf, newAgent, startSignIn } from './helpers/app';
import { caught, captureOutput, expectNoSecrets, obtainCode, renderingsOf, startTinyProvider, type OutputCapture, type TinyProvider } from './helpers/hardening';

/**
 * Failures must not leak credentials. Each case drives a real failure (through the sandbox, or a
 * tiny loopback provider answering hostile shapes), then searches every rendering of the error
 * (message, description, JSON, util.inspect with hidden fields, the whole cause chain), every
 * console and stdout/stderr write, and every HTTP answer for the client secret, tokens, codes and
 * PKCE verifiers.
 */

const REDIRECT_URI = 'http://localhost:3999/auth/fractal/callback';
let sandbox: Sandbox;
let client: SandboxCredentials;
let tokenURL: string;
let output: OutputCapture;

beforeAll(async () => {
  sandbox = await startSandbox();
  client = sandbox.registerClient({ redirectUris: [REDIRECT_URI] });
  tokenURL = `${sandbox.domains.auth}/oauth/token`;
});
afterAll(() => sandbox.close());
beforeEach(() => {
  sandbox.clearFaults();
  output = captureOutput();
});
afterEach(() => output.restore());

function expectTypedError(err: unknown, code: string): void {
  expect(isFractalError(err)).toBe(true);
  expect((err as { code: string }).code).toBe(code);
}

describe('the leak detector itself', () => {
  it('finds a secret hidden in a cause\'s non-enumerable field, URL-encoded, or base64-encoded', () => {
    const secret = 's3cret/+=value';
    const inner = new Error('inner');
    Object.defineProperty(inner, 'body', { value: `client_secret=${encodeURIComponent(secret)}`, enumerable: false });
    const outer = new Error('outer', { cause: inner });
    expect(() => expectNoSecrets(renderingsOf(outer), { secret })).toThrow();
    expect(() => expectNoSecrets([`Basic ${Buffer.from(secret).toString('base64')}`], { secret })).toThrow();
    expect(() => expectNoSecrets(renderingsOf(new Error('clean')), { secret })).not.toThrow();
  });
});

describe('token endpoint failures at the sandbox leak no credentials', () => {
  it('wrong client secret: invalid_client without the secret, the code or the verifier', async () => {
    const obtained = await obtainCode(sandbox, client, REDIRECT_URI);
    const wrongSecret = `wrong-${randomBytes(16).toString('hex')}`;
    const tokens = new TokenClient({ tokenURL, clientID: client.clientID, clientSecret: wrongSecret });
    const err = await caught(() => tokens.exchangeCode({ ...obtained, requestedScopes: ['uid:read'] }));
    expectTypedError(err, 'invalid_client');
    expectNoSecrets([...renderingsOf(err), output.text()], {
      wrongSecret,
      realSecret: client.clientSecret,
      code: obtained.code,
      codeVerifier: obtained.codeVerifier,
    });
  });

  it('wrong client secret with client_secret_basic: invalid_client without the secret in any encoding', async () => {
    const obtained = await obtainCode(sandbox, client, REDIRECT_URI);
    const wrongSecret = `wrong/+=${randomBytes(12).toString('hex')}`;
    const tokens = new TokenClient({ tokenURL, clientID: client.clientID, clientSecret: wrongSecret, authMethod: 'client_secret_basic' });
    const err = await caught(() => tokens.exchangeCode({ ...obtained, requestedScopes: ['uid:read'] }));
    expectTypedError(err, 'invalid_client');
    expectNoSecrets([...renderingsOf(err), output.text()], { wrongSecret, code: obtained.code, codeVerifier: obtained.codeVerifier });
  });

  it('reused code: invalid_grant without the code, the verifier or the first exchange\'s tokens', async () => {
    const obtained = await obtainCode(sandbox, client, REDIRECT_URI);
    const tokens = new TokenClient({ tokenURL, ...client });
    const first = await tokens.exchangeCode({ ...obtained, requestedScopes: ['uid:read'] });
    const err = await caught(() => tokens.exchangeCode({ ...obtained, requestedScopes: ['uid:read'] }));
    expectTypedError(err, 'invalid_grant');
    expectNoSecrets([...renderingsOf(err), output.text()], {
      clientSecret: client.clientSecret,
      code: obtained.code,
      codeVerifier: obtained.codeVerifier,
      accessToken: first.tokenSet.accessToken,
      refreshToken: first.tokenSet.refreshToken,
    });
  });

  it('code presented with another verifier: invalid_grant without either verifier', async () => {
    const obtained = await obtainCode(sandbox, client, REDIRECT_URI);
    const otherVerifier = randomBytes(32).toString('base64url');
    const tokens = new TokenClient({ tokenURL, ...client });
    const err = await caught(() => tokens.exchangeCode({ ...obtained, codeVerifier: otherVerifier, requestedScopes: ['uid:read'] }));
    expectTypedError(err, 'invalid_grant');
    expectNoSecrets([...renderingsOf(err), output.text()], { clientSecret: client.clientSecret, code: obtained.code, codeVerifier: obtained.codeVerifier, otherVerifier });
  });

  it('token endpoint 500 with an HTML body: provider_unavailable, and the body is not copied into the error', async () => {
    const obtained = await obtainCode(sandbox, client, REDIRECT_URI);
    sandbox.injectFault('token', { kind: 'status', status: 500, body: '<html>Internal marker-7f3a</html>', contentType: 'text/html' });
    const tokens = new TokenClient({ tokenURL, ...client });
    const err = await caught(() => tokens.exchangeCode({ ...obtained, requestedScopes: ['uid:read'] }));
    expectTypedError(err, 'provider_unavailable');
    expect(renderingsOf(err).join('\n')).not.toContain('marker-7f3a');
    expectNoSecrets([...renderingsOf(err), output.text()], { clientSecret: client.clientSecret, code: obtained.code, codeVerifier: obtained.codeVerifier });
  });

  it('token endpoint timeout: provider_timeout without credentials', async () => {
    const obtained = await obtainCode(sandbox, client, REDIRECT_URI);
    sandbox.injectFault('token', { kind: 'delay', ms: 1000 });
    const tokens = new TokenClient({ tokenURL, ...client, timeoutMs: 100 });
    const err = await caught(() => tokens.exchangeCode({ ...obtained, requestedScopes: ['uid:read'] }));
    expectTypedError(err, 'provider_timeout');
    expectNoSecrets([...renderingsOf(err), output.text()], { clientSecret: client.clientSecret, code: obtained.code, codeVerifier: obtained.codeVerifier });
  });

  it('connection reset mid-request: provider_unavailable whose cause chain holds no credentials', async () => {
    const obtained = await obtainCode(sandbox, client, REDIRECT_URI);
    sandbox.injectFault('token', { kind: 'reset' });
    const tokens = new TokenClient({ tokenURL, ...client });
    const err = await caught(() => tokens.exchangeCode({ ...obtained, requestedScopes: ['uid:read'] }));
    expectTypedError(err, 'provider_unavailable');
    expectNoSecrets([...renderingsOf(err), output.text()], { clientSecret: client.clientSecret, code: obtained.code, codeVerifier: obtained.codeVerifier });
  });
});

describe('sign-in failures answered over HTTP leak no credentials', () => {
  async function callback(app: Express, fault?: () => void): Promise<{ status: number; text: string; code: string }> {
    const agent = newAgent(app);
    const location = new URL(await sandbox.authorize(await startSignIn(agent)));
    fault?.();
    const res = await agent.get(callbackPathOf(location.href));
    return { status: res.status, text: res.text + JSON.stringify(res.headers), code: location.searchParams.get('code')! };
  }

  it('invalid_client, provider 500, timeout and reused code answer typed JSON without the secret or the code', async () => {
    const wrongSecret = `wrong-${randomBytes(8).toString('hex')}`;
    const wrong = buildApp(sandbox, { strategy: { clientSecret: wrongSecret } });
    const right = buildApp(sandbox, { strategy: { timeoutMs: 150 } });
    const answers = [
      await callback(wrong.app),
      await callback(right.app, () => sandbox.injectFault('token', { kind: 'status', status: 500, body: 'oops' })),
      await callback(right.app, () => sandbox.injectFault('token', { kind: 'delay', ms: 800 })),
    ];
    expect(answers.map((a) => a.status)).toEqual([500, 502, 504]);
    const codes = answers.map((a) => a.code);
    const texts = [...answers.map((a) => a.text), output.text()];
    expectNoSecrets(texts, {
      wrongSecret,
      rightSecret: right.clientSecret,
      wrongAppRegisteredSecret: wrong.clientSecret,
      ...Object.fromEntries(codes.map((c, i) => [`code${i}`, c])),
    });
  });
});

describe('vault refresh failures leak no tokens', () => {
  let vault: FractalVault;
  const KEY = randomBytes(32);

  function newVault(clientSecret = client.clientSecret): FractalVault {
    return createFractalVault({
      store: new MemoryTokenStore(),
      encryptionKeys: KEY,
      clientID: client.clientID,
      clientSecret,
      domains: sandbox.domains,
      timeoutMs: 150,
      retry: { attempts: 1, baseDelayMs: 1, maxDelayMs: 1 },
    });
  }

  async function signedInExpired(v: FractalVault) {
    const email = `vault-${randomBytes(4).toString('hex')}@example.com`;
    const obtained = await obtainCode(sandbox, client, REDIRECT_URI, { email });
    const { tokenSet } = await new TokenClient({ tokenURL, ...client }).exchangeCode({ ...obtained, requestedScopes: ['uid:read'] });
    const userId = `user-${randomBytes(4).toString('hex')}`;
    await v.saveTokens(userId, { ...tokenSet, expiresAt: Date.now() - 1000 });
    return { userId, tokenSet, obtained, email };
  }

  beforeEach(() => {
    vault = newVault();
  });

  it.each([
    ['token endpoint 500', 'provider_unavailable', () => sandbox.injectFault('token', { kind: 'status', status: 500, body: 'x' })],
    ['token endpoint stall', 'provider_timeout', () => sandbox.injectFault('token', { kind: 'delay', ms: 800 })],
    ['connection reset', 'provider_unavailable', () => sandbox.injectFault('token', { kind: 'reset' })],
    ['invalid JSON', 'invalid_provider_response', () => sandbox.injectFault('token', { kind: 'invalid-json' })],
  ])('%s during refresh: typed %s without the access or refresh token', async (_name, code, fault) => {
    const { userId, tokenSet, obtained } = await signedInExpired(vault);
    fault();
    const err = await caught(() => vault.getAccessToken(userId));
    expectTypedError(err, code);
    expectNoSecrets([...renderingsOf(err), output.text()], {
      clientSecret: client.clientSecret,
      accessToken: tokenSet.accessToken,
      refreshToken: tokenSet.refreshToken,
      code: obtained.code,
    });
  });

  it('revoked grant during refresh: reauthentication_required without the refresh token', async () => {
    const { userId, tokenSet, email } = await signedInExpired(vault);
    sandbox.revokeGrant(sandbox.users.findByEmail(email)!.uid, client.clientID);
    const err = await caught(() => vault.getAccessToken(userId));
    expectTypedError(err, 'reauthentication_required');
    expectNoSecrets([...renderingsOf(err), output.text()], {
      clientSecret: client.clientSecret,
      accessToken: tokenSet.accessToken,
      refreshToken: tokenSet.refreshToken,
    });
  });

  it('wrong client secret in the vault: invalid_client without either secret or the refresh token', async () => {
    const wrongSecret = `wrong-${randomBytes(16).toString('hex')}`;
    const wrongVault = newVault(wrongSecret);
    const { userId, tokenSet } = await signedInExpired(wrongVault);
    const err = await caught(() => wrongVault.getAccessToken(userId));
    expectTypedError(err, 'invalid_client');
    // A configuration mistake must not cost the user their grant: the record is still there.
    expect(await wrongVault.getTokenSet(userId)).not.toBeNull();
    expectNoSecrets([...renderingsOf(err), output.text()], {
      wrongSecret,
      clientSecret: client.clientSecret,
      accessToken: tokenSet.accessToken,
      refreshToken: tokenSet.refreshToken,
    });
  });
});

describe('hostile token responses from a loopback peer', () => {
  const ACCESS = `at-${randomBytes(12).toString('hex')}`;
  const REFRESH = `rt-${randomBytes(12).toString('hex')}`;
  const SECRET = `cs-${randomBytes(12).toString('hex')}`;
  const CODE = `code-${randomBytes(12).toString('hex')}`;
  const VERIFIER = randomBytes(32).toString('base64url');
  const good = { access_token: ACCESS, token_type: 'Bearer', expires_in: 7200, refresh_token: REFRESH, scope: 'uid:read', created_at: Math.floor(Date.now() / 1000) };
  let answer: unknown = good;
  let peer: TinyProvider;

  beforeAll(async () => {
    peer = await startTinyProvider((app) => {
      app.post('/oauth/token', (_req, res) => {
        res.status(200).type('application/json').send(typeof answer === 'string' ? answer : JSON.stringify(answer));
      });
      app.get('/v2/users/me', (_req, res) => {
        res.status(200).type('application/json').send(JSON.stringify(answer));
      });
    });
  });
  afterAll(() => peer.close());

  const exchange = () =>
    new TokenClient({ tokenURL: `${peer.url}/oauth/token`, clientID: 'id', clientSecret: SECRET }).exchangeCode({
      code: CODE,
      redirectUri: REDIRECT_URI,
      codeVerifier: VERIFIER,
      requestedScopes: ['uid:read'],
    });

  it('accepts the documented shape (control case for the cases below)', async () => {
    answer = good;
    const { tokenSet } = await exchange();
    expect(tokenSet).toMatchObject({ accessToken: ACCESS, refreshToken: REFRESH, tokenType: 'bearer', scopes: ['uid:read'] });
  });

  it.each<[string, unknown]>([
    ['token_type mac', { ...good, token_type: 'mac' }],
    ['token_type missing', { ...good, token_type: undefined }],
    ['expires_in negative', { ...good, expires_in: -1 }],
    ['expires_in zero', { ...good, expires_in: 0 }],
    ['expires_in NaN (as a string, JSON has no NaN)', { ...good, expires_in: 'NaN' }],
    ['expires_in a numeric string', { ...good, expires_in: '7200' }],
    ['expires_in huge exponent', '{"access_token":"' + ACCESS + '","token_type":"bearer","expires_in":1e400}'],
    ['access_token missing', { ...good, access_token: undefined }],
    ['access_token a number', { ...good, access_token: 12345 }],
    ['access_token empty', { ...good, access_token: '' }],
    ['scope not a string', { ...good, scope: ['uid:read'] }],
    ['refresh_token empty', { ...good, refresh_token: '' }],
    ['refresh_token a number', { ...good, refresh_token: 1 }],
    ['created_at a string', { ...good, created_at: 'yesterday' }],
    ['an array', [good]],
    ['null', null],
  ])('refuses %s as invalid_provider_response without echoing credentials', async (_name, body) => {
    answer = body;
    const err = await caught(exchange);
    expectTypedError(err, 'invalid_provider_response');
    expect((err as { status: number }).status).toBe(502);
    expectNoSecrets([...renderingsOf(err), output.text()], { SECRET, CODE, VERIFIER, ACCESS, REFRESH });
  });

  const me = () => fetchFractalUser(ACCESS, { resourceURL: peer.url });
  const validCase = { id: 'c1', level: 'basic', status: 'done', credential: 'approved' };

  it.each<[string, unknown]>([
    ['uid missing', { emails: [] }],
    ['uid a number', { uid: 42 }],
    ['uid empty', { uid: '' }],
    ['an array', [{ uid: 'u1' }]],
  ])('users/me: refuses %s as invalid_provider_response without the access token', async (_name, body) => {
    answer = body;
    const err = await caught(me);
    expectTypedError(err, 'invalid_provider_response');
    expectNoSecrets([...renderingsOf(err), output.text()], { ACCESS });
  });

  // Only the uid is required (user-integration/user-information-retrieval.md: the docs' own
  // examples omit most documented fields): the rest is read as absent, never a failed sign-in.
  it.each<[string, unknown, unknown]>([
    ['emails not a list', { uid: 'u1', emails: { address: 'a@example.com' } }, { uid: 'u1' }],
    ['an email without address', { uid: 'u1', emails: [{ type: 'primary' }] }, { uid: 'u1', emails: [] }],
    ['a case whose level is a number', { uid: 'u1', verification_cases: [{ ...validCase, level: 2 }] }, { uid: 'u1', verification_cases: [] }],
    ['a case whose details is a string', { uid: 'u1', verification_cases: [{ ...validCase, details: 'x' }] }, { uid: 'u1', verification_cases: [validCase] }],
    ['a case that is null', { uid: 'u1', verification_cases: [null] }, { uid: 'u1', verification_cases: [] }],
    ['wallets not a list', { uid: 'u1', wallets: 'eth' }, { uid: 'u1' }],
  ])('users/me: reads %s tolerantly', async (_name, body, expected) => {
    answer = body;
    await expect(me()).resolves.toEqual(expected);
  });

  it('users/me: keeps undocumented fields, top-level and inside entries', async () => {
    answer = { uid: 'u1', future_field: { nested: [1, 2] }, verification_cases: [{ ...validCase, journey_extra: true }], emails: [{ address: 'a@example.com', new_flag: 'x' }] };
    const user = await me();
    expect(user).toEqual(answer);
  });
});
