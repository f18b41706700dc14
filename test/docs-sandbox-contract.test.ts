import { KYC_LEVELS, kycScopes } from '../lib';
import { KYC_ADDONS } from '../lib/provider';
import { startSandbox, type Sandbox } from '../lib/sandbox';
import { buildApp, finishSignIn, newAgent, startSignIn } from './helpers/app';
import { docsFixture, offTable, type FieldType, type UsersMeFields } from './helpers/docs-fixtures';
import { authorizeUrl, exchangeCode, codeOf, queryOf, refreshRequest, registerTestClient, resourceGet, signIn, tokenRequest, type TestClient } from './helpers/sandbox';

// The sandbox's answers, checked against the docs' field tables and example shapes
// (test/fixtures/docs/), in its full shape and in its `minimal` shape (the docs' examples).

const FIELDS = docsFixture('user-integration/users-me-fields.json') as unknown as UsersMeFields;
const ALL_SCOPES = ['contact:read', ...kycScopes(['uniqueness', 'basic', 'plus'], { addons: [...KYC_ADDONS], details: true })].join(' ');
const WALLET = '0x52908400098527886E0F7030069857D2E4169EE7';

let sandbox: Sandbox;
let client: TestClient;
beforeAll(async () => {
  sandbox = await startSandbox();
  client = registerTestClient(sandbox);
});
afterAll(() => sandbox.close());
afterEach(() => sandbox.setResponseShape('full'));

/** Signs a user in with every scope and gives them a case for every level and add-on. */
async function everything(email: string, userType: 'person' | 'institution') {
  const token = await signIn(sandbox, client, { scope: ALL_SCOPES, decision: { email, userType, wallet: WALLET } });
  const uid = sandbox.users.findByEmail(email)?.uid as string;
  sandbox.users.setPhones(uid, ['+4915112345678']);
  const outcomes = [{ status: 'done', credential: 'approved' }, { status: 'contacted' }, { status: 'done', credential: 'rejected' }, {}] as const;
  for (const [i, name] of [...KYC_LEVELS, ...KYC_ADDONS].entries()) sandbox.users.setVerification(uid, name, outcomes[i % outcomes.length]);
  return { token: token.access_token, uid };
}

function problems(body: Record<string, unknown>, caseTable: Record<string, FieldType> = FIELDS.verification_cases): string[] {
  const found = offTable(body, FIELDS.top, 'body');
  for (const e of (body.emails ?? []) as Record<string, unknown>[]) found.push(...offTable(e, FIELDS.emails, 'emails[]'));
  for (const p of (body.phones ?? []) as Record<string, unknown>[]) found.push(...offTable(p, FIELDS.phones, 'phones[]'));
  for (const w of (body.wallets ?? []) as Record<string, unknown>[]) found.push(...offTable(w, FIELDS.wallets, 'wallets[]'));
  for (const c of (body.verification_cases ?? []) as Record<string, unknown>[]) {
    const { details, ...rest } = c;
    found.push(...offTable(rest, caseTable, `case ${String(c.level)}`));
    if (details !== null && details !== undefined) found.push(...offTable(details as Record<string, unknown>, FIELDS.details, `case ${String(c.level)}.details`));
  }
  return found;
}

describe('full shape: every field is in the docs tables, with the documented type', () => {
  it.each(['person', 'institution'] as const)('for a %s with every scope', async (userType) => {
    const { token } = await everything(`full-${userType}@example.com`, userType);
    const body = (await resourceGet(sandbox, '/v2/users/me', token)).body;
    expect(problems(body)).toEqual([]);
    const cases = body.verification_cases as Record<string, unknown>[];
    expect(cases).toHaveLength(KYC_LEVELS.length + KYC_ADDONS.length);
    for (const c of cases) expect(Object.keys(c).sort()).toEqual(['credential', 'details', 'id', 'journey_completed', 'level', 'status']);
    expect(Object.keys((body.wallets as object[])[0] as object).sort()).toEqual(['address', 'currency', 'id', 'verified']);
    expect(Object.keys((body.emails as object[])[0] as object).sort()).toEqual(['address', 'source_type']);
    const plus = cases.find((c) => c.level === 'plus')?.details as Record<string, unknown>;
    expect(plus[userType === 'person' ? 'full_name' : 'company_name']).toEqual(expect.any(String));
  });
});

describe("minimal shape: the docs' examples (user-integration/user-information-retrieval.md)", () => {
  // The examples put the outcome in `status` ("approved"), which the table's enum does not list.
  const exampleCaseTable = { ...FIELDS.verification_cases, status: ['pending', 'contacted', 'done', 'approved', 'rejected'] };

  it('joins add-ons into each level case and leaves out what the examples leave out', async () => {
    const { token } = await everything('minimal@example.com', 'person');
    sandbox.setResponseShape('minimal');
    const body = (await resourceGet(sandbox, '/v2/users/me', token)).body;
    expect(problems(body, exampleCaseTable)).toEqual([]);
    const cases = body.verification_cases as Record<string, unknown>[];
    expect(cases.map((c) => c.level)).toEqual(KYC_LEVELS.map((level) => [level, ...KYC_ADDONS].join('+')));
    for (const c of cases) {
      expect(Object.keys(c).sort()).toEqual(['details', 'level', 'status']);
      expect(c.status).toBe('rejected');
    }
    expect(body.emails).toEqual([{ address: 'minimal@example.com' }]);
    expect(body.wallets).toEqual([{ currency: 'eth', address: WALLET }]);
  });

  it('answers details: null without a details scope, and an add-on alone without status', async () => {
    const a = await signIn(sandbox, client, { scope: 'verification.basic:read verification.liveness:read', decision: { email: 'min-a@example.com' } });
    const uid = sandbox.users.findByEmail('min-a@example.com')?.uid as string;
    sandbox.users.setVerification(uid, 'basic', { status: 'done', credential: 'approved' });
    sandbox.users.setVerification(uid, 'liveness', { status: 'done', credential: 'approved' });
    // The user unticks the level at consent: the token shows the wallet case only.
    const b = await signIn(sandbox, client, {
      scope: 'verification.basic:read verification.wallet-eth:read',
      decision: { email: 'min-b@example.com', wallet: WALLET, grantScopes: ['verification.wallet-eth:read'] },
    });
    const uidB = sandbox.users.findByEmail('min-b@example.com')?.uid as string;
    sandbox.users.setVerification(uidB, 'wallet-eth', { status: 'done', credential: 'approved' });
    await fetch(`${sandbox.domains.auth}/_sandbox/response-shape`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"shape":"minimal"}' });
    expect((await resourceGet(sandbox, '/v2/users/me', a.access_token)).body.verification_cases).toEqual([{ details: null, level: 'basic+liveness', status: 'approved' }]);
    // No level case is visible: the wallet case stands alone, like response2's third case.
    expect((await resourceGet(sandbox, '/v2/users/me', b.access_token)).body.verification_cases).toEqual([{ level: 'wallet-eth' }]);
  });

  it('is switched by the admin API, the startSandbox option and nothing else', async () => {
    const admin = (shape: unknown) =>
      fetch(`${sandbox.domains.auth}/_sandbox/response-shape`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ shape }) });
    expect((await admin('tiny')).status).toBe(400);
    expect((await admin('minimal')).status).toBe(204);
    expect((await admin('full')).status).toBe(204);
    await expect(startSandbox({ responseShape: 'tiny' as never })).rejects.toMatchObject({ code: 'invalid_response_shape' });
    expect(() => sandbox.setResponseShape('tiny' as never)).toThrow(/full" or "minimal/);
  });
});

describe('other sandbox answers have the fields of the docs examples', () => {
  it('token responses (user-authorization.md, client-authorization.md)', async () => {
    const location = await sandbox.authorize(authorizeUrl(sandbox, client, { scope: 'uid:read' }));
    const code = await exchangeCode(sandbox, client, codeOf(location));
    const fieldsOf = (file: string) => Object.keys(docsFixture(file).body as object).sort();
    expect(Object.keys(code.body).sort()).toEqual(fieldsOf('user-integration/token-authorization-code.json'));
    const refreshed = await refreshRequest(sandbox, client, code.body.refresh_token as string);
    expect(Object.keys(refreshed.body).sort()).toEqual(fieldsOf('user-integration/token-refresh.json'));
    const app = await tokenRequest(sandbox, { grant_type: 'client_credentials', scope: 'client.stats:read' }, { basic: client });
    expect(Object.keys(app.body).sort()).toEqual(fieldsOf('back-office-integration/token-client-credentials.json'));
    for (const body of [code.body, refreshed.body, app.body]) expect(String(body.token_type).toLowerCase()).toBe('bearer');
  });

  it('authorize accepts the documented parameters and redirects with the documented ones', async () => {
    const { query } = docsFixture('user-integration/authorize-request.json');
    const params = { ...query, client_id: client.clientID, redirect_uri: client.redirectUri };
    const allowed = queryOf(await sandbox.authorize(authorizeUrl(sandbox, client, params)));
    expect(Object.keys(allowed).sort()).toEqual(Object.keys(docsFixture('user-integration/authorize-allowed.json').query ?? {}).sort());
    expect(allowed.state).toBe(query?.state);
    const denied = queryOf(await sandbox.authorize(authorizeUrl(sandbox, client, params), { approve: false }));
    const documented = docsFixture('user-integration/authorize-denied.json').query ?? {};
    expect(Object.keys(denied).filter((k) => k !== 'state').sort()).toEqual(Object.keys(documented).sort());
    expect(denied.error).toBe(documented.error);
  });

  it('statistics (application-statistics.md)', async () => {
    const app = (await tokenRequest(sandbox, { grant_type: 'client_credentials', scope: 'client.stats:read' }, { basic: client })).body.access_token as string;
    const total = (await resourceGet(sandbox, '/v2/stats/total-verifications', app)).body;
    expect(Object.keys(total).sort()).toEqual(Object.keys(docsFixture('back-office-integration/stats-total-verifications.json').body as object).sort());
    const statuses = ['approved', 'rejected', 'pending', 'contacted', 'expired'];
    const countries = (await resourceGet(sandbox, '/v2/stats/country-verifications', app)).body as Record<string, Record<string, number>>;
    expect(Object.keys(countries).length).toBeGreaterThan(0);
    for (const counts of Object.values(countries)) {
      for (const [status, count] of Object.entries(counts)) {
        expect(statuses).toContain(status);
        expect(count).toBeGreaterThan(0);
      }
    }
    const users = (await resourceGet(sandbox, '/v2/stats/user-verifications', app)).body as unknown as Record<string, unknown>[];
    const [documented] = docsFixture('back-office-integration/stats-user-verifications.json').body as object[];
    expect(users.length).toBeGreaterThan(0);
    for (const entry of users) expect(Object.keys(entry).sort()).toEqual(Object.keys(documented as object).sort());
  });
});

describe("sign-in through the strategy when /v2/users/me answers in the docs' minimal shapes", () => {
  it('succeeds, and the profile carries the combined case without id or credential', async () => {
    const minimal = await startSandbox({ responseShape: 'minimal' });
    try {
      const { app, verified } = buildApp(minimal, { strategy: { scope: kycScopes('basic', { addons: ['liveness'], contact: true }) } });
      const agent = newAgent(app);
      const authorize = await startSignIn(agent);
      const uid = minimal.users.ensure({ email: 'strategy-min@example.com' }).uid;
      minimal.users.setVerification(uid, 'basic', { status: 'done', credential: 'approved' });
      minimal.users.setVerification(uid, 'liveness', { status: 'done', credential: 'approved' });
      const res = await finishSignIn(agent, minimal, authorize, { email: 'strategy-min@example.com' });
      expect(res.body).toMatchObject({ outcome: 'success', user: { id: uid } });
      const profile = verified[0]?.[3];
      expect(profile?.verificationCases).toEqual([{ level: 'basic+liveness', status: 'approved' }]);
      expect(profile?.emails).toEqual([{ value: 'strategy-min@example.com' }]);
    } finally {
      await minimal.close();
    }
  });
});
