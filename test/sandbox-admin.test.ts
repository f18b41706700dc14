import { createServer } from 'node:net';
import { startSandbox, type Sandbox } from '../lib/sandbox';
import { REDIRECT_URI, authorizeUrl, codeOf, exchangeCode, refreshRequest, resourceGet, signIn, tokenRequest } from './helpers/sandbox';

describe('sandbox admin API (/_sandbox on the auth origin)', () => {
  let sandbox: Sandbox;
  const admin = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${sandbox.domains.auth}/_sandbox${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? null : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
  };

  beforeAll(async () => {
    sandbox = await startSandbox();
  });
  afterAll(() => sandbox.close());

  it('registers a client and approves an authorization, for tests in another process', async () => {
    const created = await admin('POST', '/clients', { redirectUris: [REDIRECT_URI], name: 'Remote app' });
    expect(created).toMatchObject({ status: 201, body: { clientID: expect.any(String), clientSecret: expect.any(String) } });
    const client = { ...(created.body as { clientID: string; clientSecret: string }), redirectUri: REDIRECT_URI };
    const decided = await admin('POST', '/authorize', { url: authorizeUrl(sandbox, client, { scope: 'contact:read' }), decision: { email: 'remote@example.com' } });
    expect(decided.status).toBe(200);
    const token = await exchangeCode(sandbox, client, codeOf(decided.body?.location as string));
    expect(token.body.scope).toBe('uid:read contact:read');
  });

  it('reports and resets counts', async () => {
    await admin('POST', '/reset-counts');
    await resourceGet(sandbox, '/v2/users/me', 'x');
    expect((await admin('GET', '/counts')).body).toMatchObject({ userinfo: 1, authorize: 0 });
    expect((await admin('POST', '/reset-counts')).status).toBe(204);
    expect((await admin('GET', '/counts')).body).toMatchObject({ userinfo: 0 });
  });

  it('injects and clears faults', async () => {
    expect((await admin('POST', '/faults', { endpoint: 'userinfo', fault: { kind: 'status', status: 503, times: 3 } })).status).toBe(204);
    expect((await resourceGet(sandbox, '/v2/users/me', 'x')).status).toBe(503);
    expect((await admin('DELETE', '/faults')).status).toBe(204);
    expect((await resourceGet(sandbox, '/v2/users/me', 'x')).status).toBe(401);
    expect(await admin('POST', '/faults', { endpoint: 'userinfo', fault: { kind: 'explode' } })).toMatchObject({ status: 400, body: { error: 'invalid_fault' } });
  });

  it('revokes a grant, sets a verification and changes lifetimes', async () => {
    const client = { ...sandbox.registerClient({ redirectUris: [REDIRECT_URI] }), redirectUri: REDIRECT_URI };
    const token = await signIn(sandbox, client, { scope: 'verification.basic:read', decision: { email: 'kim@example.com' } });
    const uid = sandbox.users.findByEmail('kim@example.com')?.uid as string;
    const events: unknown[] = [];
    sandbox.events.once('verification_changed', (e) => events.push(e));
    const changed = await admin('POST', '/verification', { uid, level: 'basic', status: 'done', credential: 'approved' });
    expect(changed).toMatchObject({ status: 200, body: { level: 'basic', status: 'done', credential: 'approved', journeyCompleted: true } });
    expect(events).toHaveLength(1);
    const me = await resourceGet(sandbox, '/v2/users/me', token.access_token);
    expect(me.body.verification_cases).toEqual([expect.objectContaining({ credential: 'approved' })]);

    expect((await admin('POST', '/revoke', { uid })).status).toBe(204);
    expect((await refreshRequest(sandbox, client, token.refresh_token)).body.error).toBe('invalid_grant');

    expect((await admin('POST', '/lifetimes', { accessToken: 5 })).status).toBe(204);
    expect((await signIn(sandbox, client)).expires_in).toBe(5);
    expect(await admin('POST', '/lifetimes', { accessToken: -1 })).toMatchObject({ status: 400, body: { error: 'invalid_lifetimes' } });
    await admin('POST', '/lifetimes', { accessToken: 7200 });

    expect((await admin('POST', '/clock-skew', { ms: -10_000 })).status).toBe(204);
    const skewed = await tokenRequest(sandbox, { grant_type: 'client_credentials', scope: 'client.stats:read' }, { basic: client });
    expect(Math.abs((skewed.body.created_at as number) - (Math.floor(Date.now() / 1000) - 10))).toBeLessThanOrEqual(1);
    await admin('POST', '/clock-skew', { ms: 0 });
  });

  it('answers errors as JSON: unknown user 404, invalid body 400, unknown route 404', async () => {
    expect(await admin('POST', '/verification', { uid: 'nobody', level: 'basic' })).toMatchObject({ status: 404, body: { error: 'unknown_user' } });
    expect(await admin('POST', '/clients', { redirectUris: ['http://evil.example/cb'] })).toMatchObject({ status: 400, body: { error: 'invalid_redirect_uri' } });
    expect(await admin('POST', '/authorize', { url: 'http://127.0.0.1:1/authorize' })).toMatchObject({ status: 400, body: { error: 'invalid_authorize_url' } });
    const malformed = await fetch(`${sandbox.domains.auth}/_sandbox/revoke`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' });
    expect(malformed.status).toBe(400);
    expect((await admin('GET', '/nope')).status).toBe(404);
  });

  it('is served on the auth origin only', async () => {
    expect((await fetch(`${sandbox.domains.frontend}/_sandbox/counts`)).status).toBe(404);
    expect((await fetch(`${sandbox.domains.resource}/_sandbox/counts`)).status).toBe(404);
  });
});

describe('sandbox lifecycle', () => {
  it('gives the three origins three different loopback ports', async () => {
    const sandbox = await startSandbox();
    try {
      const ports = Object.values(sandbox.domains).map((d) => new URL(d).port);
      expect(new Set(ports).size).toBe(3);
      for (const domain of Object.values(sandbox.domains)) expect(domain).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    } finally {
      await sandbox.close();
    }
  });

  it('puts auth and resource on port+1 and port+2 when a port is given', async () => {
    let lastError: unknown;
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const port = await freePort();
      try {
        const sandbox = await startSandbox({ port });
        await sandbox.close();
        expect(sandbox.domains).toEqual({
          frontend: `http://127.0.0.1:${port}`,
          auth: `http://127.0.0.1:${port + 1}`,
          resource: `http://127.0.0.1:${port + 2}`,
        });
        return;
      } catch (err) {
        lastError = err; // port+1 or port+2 was taken by another process: try elsewhere.
      }
    }
    throw lastError;
  });

  it('registers clients given in the options and closes idempotently, even with a request held by a delay', async () => {
    const sandbox = await startSandbox({ clients: [{ clientID: 'fixed-id', clientSecret: 'fixed-secret', redirectUris: [REDIRECT_URI] }] });
    const client = { clientID: 'fixed-id', clientSecret: 'fixed-secret', redirectUri: REDIRECT_URI };
    const location = await sandbox.authorize(authorizeUrl(sandbox, client));
    expect((await exchangeCode(sandbox, client, codeOf(location))).status).toBe(200);
    expect(() => sandbox.registerClient({ clientID: 'fixed-id', redirectUris: [REDIRECT_URI] })).toThrow(/already registered/);
    sandbox.injectFault('userinfo', { kind: 'delay', ms: 60_000 });
    const held = resourceGet(sandbox, '/v2/users/me', 'x');
    held.catch(() => undefined); // asserted below; avoids an unhandled rejection meanwhile
    await new Promise((resolve) => setTimeout(resolve, 20));
    await Promise.all([sandbox.close(), sandbox.close()]);
    await expect(held).rejects.toThrow();
    await expect(fetch(`${sandbox.domains.auth}/oauth/token`, { method: 'POST' })).rejects.toThrow();
  });

  it('refuses redirect URIs that are not https (except loopback) or have a fragment', async () => {
    const sandbox = await startSandbox();
    try {
      for (const uri of ['http://app.example/cb', 'https://app.example/cb#frag', 'not a url']) {
        expect(() => sandbox.registerClient({ redirectUris: [uri] })).toThrow(expect.objectContaining({ code: 'invalid_redirect_uri' }));
      }
      expect(() => sandbox.registerClient({ redirectUris: ['http://localhost:3000/cb', 'https://app.example/cb'] })).not.toThrow();
    } finally {
      await sandbox.close();
    }
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port > 65000 ? 40_000 + (port % 20_000) : port));
    });
  });
}
