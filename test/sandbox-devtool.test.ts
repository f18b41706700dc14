import express from 'express';
import { fractalWebhooks, type FractalWebhookEvent } from '../lib';
import { DEFAULT_REDIRECT_URI, runCli } from '../lib/sandbox/cli';
import { startSandbox, type Sandbox } from '../lib/sandbox';
import { registerTestClient, refreshRequest, resourceGet, signIn } from './helpers/sandbox';
import { listen } from './helpers/webhooks';

async function cliJson(args: string[]): Promise<{ sandbox: Sandbox; json: Record<string, unknown> }> {
  const out: string[] = [];
  const { sandbox } = await runCli([...args, '--json'], { stdout: (t) => out.push(t), stderr: () => undefined });
  if (!sandbox) throw new Error('expected a running sandbox');
  expect(out).toHaveLength(1);
  expect(out[0]).toMatch(/^\{.*\}\n$/);
  return { sandbox, json: JSON.parse(out[0] as string) as Record<string, unknown> };
}

describe('fractal-sandbox as a dev tool', () => {
  it('--json prints one machine-readable object whose credentials and URLs work', async () => {
    const { sandbox, json } = await cliJson([]);
    try {
      expect(json).toEqual({
        ...sandbox.domains,
        admin: `${sandbox.domains.auth}/_sandbox`,
        clientID: expect.any(String),
        clientSecret: expect.any(String),
        redirectUris: [DEFAULT_REDIRECT_URI],
        accessTokenTTL: 7200,
        webhook: null,
      });
      const client = { clientID: json.clientID as string, clientSecret: json.clientSecret as string, redirectUri: DEFAULT_REDIRECT_URI };
      const tokens = await signIn(sandbox, client);
      expect(tokens.expires_in).toBe(7200);
      expect((await fetch(`${json.admin as string}/counts`)).status).toBe(200);
    } finally {
      await sandbox.close();
    }
  });

  it('--access-token-ttl sets the lifetime of issued access tokens; a bad value is refused', async () => {
    const { sandbox, json } = await cliJson(['--access-token-ttl', '60']);
    try {
      expect(json.accessTokenTTL).toBe(60);
      const tokens = await signIn(sandbox, { clientID: json.clientID as string, clientSecret: json.clientSecret as string, redirectUri: DEFAULT_REDIRECT_URI });
      expect(tokens.expires_in).toBe(60);
    } finally {
      await sandbox.close();
    }
    for (const bad of ['0', 'soon']) {
      const err: string[] = [];
      expect(await runCli(['--access-token-ttl', bad], { stdout: () => undefined, stderr: (t) => err.push(t) })).toEqual({ code: 2 });
      expect(err.join('')).toMatch(/--access-token-ttl/);
    }
  });

  it('--webhook-url and --webhook-secret deliver signed webhooks; without a secret a random one is printed', async () => {
    for (const given of ['cli-webhook-secret', undefined]) {
      const events: FractalWebhookEvent[] = [];
      let secret = given ?? '';
      const app = express();
      app.post('/webhooks/fractal', (req, res, next) => fractalWebhooks({ secrets: secret, onEvent: (e) => void events.push(e) })(req, res, next));
      const receiver = await listen(app);
      const { sandbox, json } = await cliJson(['--webhook-url', receiver.url, ...(given ? ['--webhook-secret', given] : [])]);
      try {
        const webhook = json.webhook as { url: string; secret: string };
        expect(webhook.url).toBe(receiver.url);
        if (given) expect(webhook.secret).toBe(given);
        else expect(webhook.secret).toMatch(/^[0-9a-f]{40}$/);
        secret = webhook.secret;
        const user = sandbox.users.ensure({ email: 'hook@example.com' });
        sandbox.users.setVerification(user.uid, 'basic', { status: 'done', credential: 'approved' });
        for (let i = 0; i < 100 && events.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
        expect(events.map((e) => [e.type, (e.data as { user_id?: string }).user_id])).toEqual([['verification_approved', user.uid]]);
      } finally {
        await sandbox.close();
        await receiver.close();
      }
    }
    for (const [args, message] of [
      [['--webhook-secret', 's'], /--webhook-secret needs --webhook-url/],
      [['--webhook-url', 'not a url'], /--webhook-url must be an absolute URL/],
    ] as const) {
      const err: string[] = [];
      expect(await runCli(args, { stdout: () => undefined, stderr: (t) => err.push(t) })).toEqual({ code: 2 });
      expect(err.join('')).toMatch(message);
    }
  });

  it('prints the webhook target and the admin API in the text output too', async () => {
    const out: string[] = [];
    const { sandbox } = await runCli(['--webhook-url', 'http://127.0.0.1:9/hooks'], { stdout: (t) => out.push(t), stderr: () => undefined });
    if (!sandbox) throw new Error('expected a running sandbox');
    try {
      const text = out.join('\n');
      expect(text).toMatch(/webhooks\s+http:\/\/127\.0\.0\.1:9\/hooks/);
      expect(text).toMatch(/webhook_secret\s+[0-9a-f]{40}/);
      expect(text).toContain(`${sandbox.domains.auth}/_sandbox`);
    } finally {
      await sandbox.close();
    }
  });
});

describe('"expire now" and reset', () => {
  let sandbox: Sandbox;
  const admin = async (path: string, body?: unknown) => {
    const res = await fetch(`${sandbox.domains.auth}/_sandbox${path}`, {
      method: 'POST',
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

  it('sandbox.expireTokens(uid): the access token is refused at once, the refresh token still works', async () => {
    const client = registerTestClient(sandbox);
    const tokens = await signIn(sandbox, client, { decision: { email: 'expire-api@example.com' } });
    const uid = sandbox.users.findByEmail('expire-api@example.com')!.uid;
    expect((await resourceGet(sandbox, '/v2/users/me', tokens.access_token)).status).toBe(200);
    expect(sandbox.expireTokens(uid)).toBe(1);
    expect((await resourceGet(sandbox, '/v2/users/me', tokens.access_token)).status).toBe(401);
    const refreshed = await refreshRequest(sandbox, client, tokens.refresh_token);
    expect(refreshed.status).toBe(200);
    expect((await resourceGet(sandbox, '/v2/users/me', refreshed.body.access_token as string)).status).toBe(200);
    expect(sandbox.expireTokens(uid, 'another-client')).toBe(0);
  });

  it('POST /_sandbox/expire-tokens does the same over HTTP and refuses a body without uid', async () => {
    const client = registerTestClient(sandbox);
    const tokens = await signIn(sandbox, client, { decision: { email: 'expire-http@example.com' } });
    const uid = sandbox.users.findByEmail('expire-http@example.com')!.uid;
    expect(await admin('/expire-tokens', { uid, clientID: client.clientID })).toEqual({ status: 200, body: { expired: 1 } });
    expect((await resourceGet(sandbox, '/v2/users/me', tokens.access_token)).status).toBe(401);
    expect((await admin('/expire-tokens', { clientID: client.clientID })).status).toBe(400);
  });

  it('reset (API and POST /_sandbox/reset) forgets users, tokens, faults, counts and skew, keeps clients', async () => {
    for (const reset of [() => sandbox.reset(), async () => expect((await admin('/reset')).status).toBe(204)]) {
      const client = registerTestClient(sandbox);
      const tokens = await signIn(sandbox, client, { decision: { email: 'reset@example.com' } });
      sandbox.injectFault('userinfo', { kind: 'status', status: 500, times: 5 });
      sandbox.setTokenLifetimes({ accessToken: 5 });
      sandbox.setClockSkew(60_000);
      await reset();
      expect(sandbox.users.list()).toEqual([]);
      expect(sandbox.counts()).toEqual({ authorize: 0, token: { authorization_code: 0, refresh_token: 0, client_credentials: 0, failed: 0 }, userinfo: 0, stats: 0 });
      // Faults gone: a 401 (token forgotten), not the injected 500.
      expect((await resourceGet(sandbox, '/v2/users/me', tokens.access_token)).status).toBe(401);
      expect((await refreshRequest(sandbox, client, tokens.refresh_token)).status).toBe(400);
      // The client is still registered; lifetimes are back to the start-up ones.
      const again = await signIn(sandbox, client, { decision: { email: 'reset@example.com' } });
      expect(again.expires_in).toBe(7200);
    }
  });
});
