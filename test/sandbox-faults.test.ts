import { startSandbox, type Sandbox } from '../lib/sandbox';
import { authorizeUrl, exchangeCode, registerTestClient, resourceGet, signIn, tokenRequest, type TestClient } from './helpers/sandbox';

describe('sandbox fault injection and counters', () => {
  let sandbox: Sandbox;
  let client: TestClient;
  const appTokenRequest = () => tokenRequest(sandbox, { grant_type: 'client_credentials', scope: 'client.stats:read' }, { basic: client });

  beforeAll(async () => {
    sandbox = await startSandbox();
    client = registerTestClient(sandbox);
  });
  afterAll(() => sandbox.close());
  beforeEach(() => {
    sandbox.clearFaults();
    sandbox.resetCounts();
  });

  it('answers the injected status with an HTML body by default, then recovers', async () => {
    sandbox.injectFault('token', { kind: 'status', status: 503 });
    const faulted = await appTokenRequest();
    expect(faulted.status).toBe(503);
    expect(faulted.headers.get('content-type')).toMatch(/^text\/html/);
    expect(faulted.body.raw).toContain('<html>');
    expect((await appTokenRequest()).status).toBe(200);
    expect(sandbox.counts().token).toEqual({ authorization_code: 0, refresh_token: 0, client_credentials: 1, failed: 1 });
  });

  it('answers a given body and content type', async () => {
    const token = await signIn(sandbox, client);
    sandbox.injectFault('userinfo', { kind: 'status', status: 500, body: '{"error":"server_error"}', contentType: 'application/json' });
    const res = await resourceGet(sandbox, '/v2/users/me', token.access_token);
    expect(res).toMatchObject({ status: 500, body: { error: 'server_error' } });
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  });

  it('sends the given headers with a status fault, such as Retry-After on a 429', async () => {
    const token = await signIn(sandbox, client);
    sandbox.injectFault('userinfo', { kind: 'status', status: 429, headers: { 'Retry-After': '7' } });
    const res = await resourceGet(sandbox, '/v2/users/me', token.access_token);
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('7');
    expect(() => sandbox.injectFault('userinfo', { kind: 'status', status: 429, headers: { 'Retry-After': 7 as unknown as string } })).toThrow(/headers/);
  });

  it('delays the answer, then answers normally', async () => {
    sandbox.injectFault('token', { kind: 'delay', ms: 150 });
    const started = Date.now();
    const res = await appTokenRequest();
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(res.status).toBe(200);
    expect(sandbox.counts().token.client_credentials).toBe(1);
  });

  it('resets the connection without answering', async () => {
    sandbox.injectFault('token', { kind: 'reset' });
    await expect(appTokenRequest()).rejects.toThrow();
    expect((await appTokenRequest()).status).toBe(200);
    expect(sandbox.counts().token.failed).toBe(1);
  });

  it('handles the request but cuts the connection instead of answering (lost answer)', async () => {
    const token = await signIn(sandbox, client);
    const uid = (await resourceGet(sandbox, '/v2/users/me', token.access_token)).body.uid as string;
    const live = () => sandbox.grants().find((g) => g.uid === uid && g.clientID === client.clientID)?.liveRefreshTokens ?? 0;
    const before = live();
    sandbox.resetCounts();
    sandbox.injectFault('token', { kind: 'lost-answer' });
    await expect(tokenRequest(sandbox, { grant_type: 'refresh_token', refresh_token: token.refresh_token }, { basic: client })).rejects.toThrow();
    // The provider did commit: the refresh is counted and a new pair was issued (one more live
    // refresh token: the used one stays valid until the new access token is first used).
    expect(sandbox.counts().token).toMatchObject({ refresh_token: 1, failed: 0 });
    expect(live()).toBe(before + 1);
    const again = await tokenRequest(sandbox, { grant_type: 'refresh_token', refresh_token: token.refresh_token }, { basic: client });
    expect(again.status).toBe(200);
  });

  it('lists live grants per user and client, and a revoked grant has none', async () => {
    const token = await signIn(sandbox, client);
    const uid = (await resourceGet(sandbox, '/v2/users/me', token.access_token)).body.uid as string;
    const mine = () => sandbox.grants().find((g) => g.uid === uid && g.clientID === client.clientID);
    expect(mine()?.liveRefreshTokens).toBeGreaterThan(0);
    const overHttp = (await (await fetch(`${sandbox.domains.auth}/_sandbox/grants`)).json()) as unknown[];
    expect(overHttp).toContainEqual(mine());
    sandbox.revokeGrant(uid, client.clientID);
    expect(mine()?.liveRefreshTokens).toBe(0);
  });

  it('answers 200 with a body that is not JSON', async () => {
    sandbox.injectFault('token', { kind: 'invalid-json' });
    const res = await fetch(`${sandbox.domains.auth}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const text = await res.text();
    expect(() => JSON.parse(text)).toThrow();
  });

  it('applies a fault to the next `times` requests and queues faults in injection order', async () => {
    sandbox.injectFault('token', { kind: 'status', status: 502, times: 2 });
    sandbox.injectFault('token', { kind: 'status', status: 429 });
    const statuses = [];
    for (let i = 0; i < 4; i += 1) statuses.push((await appTokenRequest()).status);
    expect(statuses).toEqual([502, 502, 429, 200]);
    expect(sandbox.counts().token.failed).toBe(3);
  });

  it('faults the authorization page and the statistics API', async () => {
    sandbox.injectFault('authorize', { kind: 'status', status: 503 });
    expect((await fetch(authorizeUrl(sandbox, client), { redirect: 'manual' })).status).toBe(503);
    expect((await fetch(authorizeUrl(sandbox, client), { redirect: 'manual' })).status).toBe(200);
    const app = await appTokenRequest();
    sandbox.injectFault('stats', { kind: 'status', status: 500 });
    expect((await resourceGet(sandbox, '/v2/stats/total-verifications', app.body.access_token as string)).status).toBe(500);
    expect((await resourceGet(sandbox, '/v2/stats/total-verifications', app.body.access_token as string)).status).toBe(200);
    expect(sandbox.counts()).toMatchObject({ authorize: 2, stats: 2 });
  });

  it('clearFaults removes pending faults', async () => {
    sandbox.injectFault('token', { kind: 'status', status: 500, times: 5 });
    sandbox.clearFaults();
    expect((await appTokenRequest()).status).toBe(200);
  });

  it('rejects malformed faults', () => {
    expect(() => sandbox.injectFault('token', { kind: 'status', status: 42 })).toThrow(expect.objectContaining({ code: 'invalid_fault' }));
    expect(() => sandbox.injectFault('nope' as 'token', { kind: 'reset' })).toThrow(expect.objectContaining({ code: 'invalid_fault' }));
    expect(() => sandbox.injectFault('token', { kind: 'reset', times: 0 })).toThrow(expect.objectContaining({ code: 'invalid_fault' }));
  });

  it('counts every endpoint and resets the counts', async () => {
    const token = await signIn(sandbox, client);
    await tokenRequest(sandbox, { grant_type: 'refresh_token', refresh_token: token.refresh_token }, { basic: client });
    await exchangeCode(sandbox, client, 'bogus');
    await resourceGet(sandbox, '/v2/users/me', token.access_token);
    await resourceGet(sandbox, '/v2/users/me', 'bogus');
    expect(sandbox.counts()).toEqual({
      authorize: 1,
      token: { authorization_code: 1, refresh_token: 1, client_credentials: 0, failed: 1 },
      userinfo: 2,
      stats: 0,
    });
    sandbox.resetCounts();
    expect(sandbox.counts()).toEqual({ authorize: 0, token: { authorization_code: 0, refresh_token: 0, client_credentials: 0, failed: 0 }, userinfo: 0, stats: 0 });
  });

  it('returns a copy of the counts', () => {
    const counts = sandbox.counts();
    counts.token.failed = 99;
    expect(sandbox.counts().token.failed).toBe(0);
  });
});

describe('sandbox logger', () => {
  it('logs method, path and status, never codes, tokens or secrets', async () => {
    const lines: string[] = [];
    const sandbox = await startSandbox({ logger: (line) => lines.push(line) });
    try {
      const client = registerTestClient(sandbox);
      await fetch(authorizeUrl(sandbox, client), { redirect: 'manual' });
      const token = await signIn(sandbox, client);
      await resourceGet(sandbox, '/v2/users/me', token.access_token);
      const log = lines.join('\n');
      expect(log).toMatch(/frontend GET \/authorize 200/);
      expect(log).toMatch(/auth POST \/oauth\/token 200/);
      expect(log).toMatch(/resource GET \/v2\/users\/me 200/);
      for (const secret of [client.clientSecret, token.access_token, token.refresh_token, 'state-123']) expect(log).not.toContain(secret);
    } finally {
      await sandbox.close();
    }
  });
});
