import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { TokenClient } from '../lib/provider';
import { startSandbox, type Sandbox } from '../lib/sandbox';

// Characters that form-encoding and percent-encoding change, so each wire form differs from the raw secret.
const clientID = 'app id+1';
const secret = 'pa ss/w+rd=&%é-0123456789';
const formEncoded = new URLSearchParams({ s: secret }).toString().slice(2);
const basic = Buffer.from(`${encodeURIComponent(clientID)}:${encodeURIComponent(secret)}`).toString('base64');
const basicRaw = Buffer.from(`${clientID}:${secret}`).toString('base64');

function rendered(err: unknown): string {
  const e = err as { message?: string; description?: string };
  return `${JSON.stringify(err)} ${e.message} ${e.description}`;
}

describe('a token endpoint that quotes wire forms of the credentials', () => {
  let server: Server;
  let tokenURL: string;
  let echo: (body: string, authorization: string) => string;
  beforeAll(async () => {
    const app = express();
    app.post('/oauth/token', express.text({ type: () => true }), (req, res) => {
      res.status(401).json({ error: 'invalid_client', error_description: echo(String(req.body), req.get('authorization') ?? '') });
    });
    server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    tokenURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/oauth/token`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  it('redacts the form-urlencoded secret of a client_secret_post body', async () => {
    echo = (body) => `bad client_secret ${/client_secret=([^&]*)/.exec(body)?.[1]}`;
    const err = await new TokenClient({ tokenURL, clientID, clientSecret: secret }).clientCredentials(['client.stats:read']).catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('invalid_client');
    expect(rendered(err)).toContain('[redacted]');
    expect(rendered(err)).not.toContain(formEncoded);
  });

  it.each([
    ['as sent (parts form-encoded)', () => basic],
    ['padded differently', () => basic.replace(/=+$/, '')],
    ['of the raw id:secret', () => basicRaw],
  ])('redacts base64(id:secret) of a client_secret_basic header, %s', async (_name, value) => {
    echo = () => `credentials ${value()} are unknown`;
    const client = new TokenClient({ tokenURL, clientID, clientSecret: secret, authMethod: 'client_secret_basic' });
    const err = await client.clientCredentials(['client.stats:read']).catch((e: unknown) => e);
    expect(rendered(err)).toContain('[redacted]');
    expect(rendered(err)).not.toContain(value().replace(/=+$/, ''));
  });
});

describe('the sandbox echoing what it received in error_description', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await startSandbox();
  });
  afterAll(() => sandbox.close());

  it.each(['client_secret_post', 'client_secret_basic'] as const)('never leaks the secret in any form (%s)', async (authMethod) => {
    sandbox.injectFault('token', { kind: 'echo' });
    const client = new TokenClient({ tokenURL: `${sandbox.domains.auth}/oauth/token`, clientID, clientSecret: secret, authMethod });
    const err = await client.refresh('refresh-token-0123456789/+', []).catch((e: unknown) => e);
    const text = rendered(err);
    // The echo is really there (the request went over the wire and came back), only redacted.
    expect(text).toMatch(authMethod === 'client_secret_basic' ? /authorization=Basic \[redacted\]/ : /client_secret=\[redacted\]/);
    for (const form of [secret, formEncoded, encodeURIComponent(secret), basic.replace(/=+$/, ''), basicRaw.replace(/=+$/, ''), 'refresh-token-0123456789']) {
      expect(text).not.toContain(form);
    }
  });
});
