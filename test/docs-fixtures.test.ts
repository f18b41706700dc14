import express from 'express';
import request from 'supertest';
import { FractalClient, fractalWebhooks, signFractalWebhook, type FractalWebhookEvent } from '../lib';
import { TokenClient, fetchFractalUser, toFractalProfile } from '../lib/provider';
import { startSandbox, type Sandbox } from '../lib/sandbox';
import { allDocsFixtures, docsFixture } from './helpers/docs-fixtures';

// The library's readers accept every request and response example of the provider docs
// (test/fixtures/docs/, one file per example, each naming its source file). The answers travel
// over real HTTP: the sandbox serves each fixture body verbatim through its fault injector.

let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await startSandbox();
});
afterAll(() => sandbox.close());
afterEach(() => sandbox.clearFaults());

const serve = (body: unknown) => ({ kind: 'status' as const, status: 200, body: JSON.stringify(body), contentType: 'application/json' });

it('every fixture names the docs file it was written from', () => {
  const files = allDocsFixtures();
  expect(files.length).toBeGreaterThanOrEqual(18);
  for (const file of files) {
    const fixture = docsFixture(file);
    expect({ file, source: fixture.source }).toEqual({ file, source: expect.stringMatching(/^[a-z0-9-]+(\/[a-z0-9-]+)*\.md$/) });
    expect(fixture.example.length).toBeGreaterThan(0);
  }
});

describe('GET /v2/users/me examples (user-integration/user-information-retrieval.md)', () => {
  it.each(['user-integration/users-me-response1.json', 'user-integration/users-me-response2.json'])('%s is read, with every case and unknown field kept', async (file) => {
    const body = docsFixture(file).body as { uid: string; verification_cases: { level: string }[]; [k: string]: unknown };
    sandbox.injectFault('userinfo', serve(body));
    const user = await fetchFractalUser('any-token', { resourceURL: sandbox.domains.resource });
    expect(user.uid).toBe(body.uid);
    expect(user.verification_cases?.map((c) => c.level)).toEqual(body.verification_cases.map((c) => c.level));
    for (const c of user.verification_cases ?? []) {
      expect(c.credential).toBeUndefined();
      expect(c.id).toBeUndefined();
    }
    const profile = toFractalProfile(user);
    expect(profile.id).toBe(body.uid);
    expect(profile.verificationCases).toHaveLength(3);
  });

  it('keeps the details, the report and the typo key of the examples', async () => {
    sandbox.injectFault('userinfo', serve(docsFixture('user-integration/users-me-response1.json').body));
    const one = await fetchFractalUser('any-token', { resourceURL: sandbox.domains.resource });
    expect(one['phones:']).toEqual([{ number: '+351910000000' }]);
    expect(one.emails).toEqual([{ address: 'fixture@example.com', source_type: 'registration' }]);
    expect(one.verification_cases?.[0]).toEqual({ level: 'plus+selfie', status: 'pending' });
    expect(one.verification_cases?.[2]?.report).toMatchObject({ address_type: 'ETH', indicators: null });

    sandbox.injectFault('userinfo', serve(docsFixture('user-integration/users-me-response2.json').body));
    const two = await fetchFractalUser('any-token', { resourceURL: sandbox.domains.resource });
    expect(two.wallets).toEqual([{ currency: 'eth', address: '0x7777' }]);
    expect(two.verification_cases?.[0]?.details).toMatchObject({ full_name: 'Joana Exemplo', identification_document_type: 'national_id' });
    expect(two.verification_cases?.[1]?.details?.identification_document_selfie_file).toBe('https://files.fixture.invalid/selfie.jpg');
    expect(two.verification_cases?.[0]?.report).toBeUndefined();
  });
});

describe('token endpoint examples', () => {
  const client = () => new TokenClient({ tokenURL: `${sandbox.domains.auth}/oauth/token`, clientID: 'fixture-client', clientSecret: 'fixture-secret' });

  it('reads the authorization code and refresh answers (user-integration/user-authorization.md)', async () => {
    for (const file of ['user-integration/token-authorization-code.json', 'user-integration/token-refresh.json']) {
      const fixture = docsFixture(file);
      const body = fixture.body as Record<string, string>;
      sandbox.injectFault('token', serve(body));
      const result = file.endsWith('refresh.json')
        ? await client().refresh(fixture.request?.refresh_token as string, ['uid:read'])
        : await client().exchangeCode({ code: 'fixture-code', redirectUri: fixture.request?.redirect_uri as string, requestedScopes: ['uid:read'] });
      expect(result.tokenSet).toMatchObject({ accessToken: body.access_token, refreshToken: body.refresh_token, tokenType: 'bearer', scopes: ['uid:read', 'email:read'] });
    }
  });

  it('reads the client credentials answer, token_type "Bearer" (back-office-integration/client-authorization.md)', async () => {
    const body = docsFixture('back-office-integration/token-client-credentials.json').body as Record<string, string>;
    sandbox.injectFault('token', serve(body));
    const result = await client().clientCredentials(['client.stats:read']);
    expect(result.tokenSet).toMatchObject({ accessToken: body.access_token, scopes: ['client.stats:read'] });
    expect(result.tokenSet.refreshToken).toBeUndefined();
  });
});

describe('statistics examples (back-office-integration/application-statistics.md)', () => {
  let fractal: FractalClient;
  beforeAll(() => {
    const credentials = sandbox.registerClient({ redirectUris: ['https://app.example.com/cb'] });
    fractal = new FractalClient({ ...credentials, domains: sandbox.domains });
  });
  afterAll(() => fractal.close());

  it('reads all three answers as printed', async () => {
    for (const [file, read] of [
      ['back-office-integration/stats-total-verifications.json', () => fractal.stats.totalVerifications()],
      ['back-office-integration/stats-country-verifications.json', () => fractal.stats.countryVerifications()],
      ['back-office-integration/stats-user-verifications.json', () => fractal.stats.userVerifications()],
    ] as const) {
      const body = docsFixture(file).body;
      sandbox.injectFault('stats', serve(body));
      await expect(read()).resolves.toEqual(body);
    }
  });
});

describe('webhook examples (user-integration/webhooks/)', () => {
  const SECRET = 'fixture-webhook-secret';
  function receiver(events: FractalWebhookEvent[]) {
    const app = express();
    // The docs' examples carry 2020 timestamps: the replay window (webhooks-replay.test.ts) would refuse them.
    app.post('/webhooks/fractal', fractalWebhooks({ secrets: SECRET, store: false, replayWindowMs: false, onEvent: (event) => void events.push(event) }));
    return app;
  }

  it.each([
    'user-integration/webhooks/verification-approved.json',
    'user-integration/webhooks/verification-contacted.json',
    'user-integration/webhooks/verification-rejected.json',
    'user-integration/webhooks/credential-shared.json',
    'user-integration/webhooks/email-changed.json',
  ])('%s is verified and typed', async (file) => {
    const body = docsFixture(file).body as { type: string; data: Record<string, string> };
    const raw = JSON.stringify(body);
    const events: FractalWebhookEvent[] = [];
    await request(receiver(events))
      .post('/webhooks/fractal')
      .set('Content-Type', 'application/json')
      .set('X-Fractal-Signature', signFractalWebhook(SECRET, raw))
      .send(raw)
      .expect(200);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: body.type, known: true, data: body.data });
  });

  it('accepts the delivery request of delivery.md (sha1=<hex> over the raw body)', async () => {
    const fixture = docsFixture('user-integration/webhooks/delivery-request.json');
    const raw = fixture.rawBody as string;
    const signature = signFractalWebhook(fixture.secret as string, raw);
    expect(signature).toMatch(/^sha1=[0-9a-f]{40}$/);
    const events: FractalWebhookEvent[] = [];
    await request(receiver(events)).post('/webhooks/fractal').set(fixture.headers as Record<string, string>).set('X-Fractal-Signature', signature).send(raw).expect(200);
    expect(events[0]).toMatchObject({ type: 'verification_approved', data: { level: 'basic' } });
  });
});
