import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import { createFractalVault, MemoryTokenStore, FractalClient, generateEncryptionKey } from '../lib';
import { TokenClient } from '../lib/provider';

/** A token endpoint on loopback that echoes what it received in its error description. */
let server: Server;
let tokenURL: string;
beforeAll(async () => {
  const app = express();
  app.post('/oauth/token', express.urlencoded({ extended: false }), (req, res) => {
    const body = req.body as Record<string, string>;
    if (body.code === 'reused') {
      // Doorkeeper with reuse_access_token: a token created 90 minutes ago, `expires_in` is what remains of it.
      res.json({ access_token: 'at', token_type: 'bearer', expires_in: 1800, created_at: Math.floor(Date.now() / 1000) - 5400 });
      return;
    }
    res.status(400).json({
      error: 'invalid_grant',
      error_description: `secret ${body.client_secret} code ${body.code} refresh ${body.refresh_token} verifier ${body.code_verifier}`,
    });
  });
  server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  tokenURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/oauth/token`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

const secret = 'client-secret-0123456789';

it('redacts the secret, code and verifier it sent when the provider echoes them in error_description', async () => {
  const client = new TokenClient({ tokenURL, clientID: 'id', clientSecret: secret });
  const code = 'authorization-code-abcdef';
  const verifier = 'code-verifier-0123456789-abcdefghij';
  const err = await client.exchangeCode({ code, redirectUri: 'http://localhost/cb', codeVerifier: verifier, requestedScopes: [] }).catch((e: unknown) => e);
  const rendered = JSON.stringify(err) + String((err as Error).message) + String((err as { description?: string }).description);
  expect((err as { code?: string }).code).toBe('invalid_grant');
  expect(rendered).toContain('[redacted]');
  for (const value of [secret, code, verifier]) expect(rendered).not.toContain(value);
});

it('counts expires_in from our send time and ignores created_at (Doorkeeper sends what remains of a reused token)', async () => {
  const client = new TokenClient({ tokenURL, clientID: 'id', clientSecret: secret });
  const before = Date.now();
  const { tokenSet } = await client.exchangeCode({ code: 'reused', redirectUri: 'http://localhost/cb', requestedScopes: [] });
  expect(tokenSet.expiresAt).toBeGreaterThanOrEqual(before + 1800 * 1000);
  expect(tokenSet.expiresAt).toBeLessThanOrEqual(Date.now() + 1800 * 1000);
});

it('redacts the refresh token it sent', async () => {
  const client = new TokenClient({ tokenURL, clientID: 'id', clientSecret: secret });
  const refreshToken = 'refresh-token-0123456789';
  const err = await client.refresh(refreshToken, []).catch((e: unknown) => e);
  expect(JSON.stringify(err) + (err as Error).message).not.toContain(refreshToken);
});

it.each([
  ['TokenClient', () => new TokenClient({ tokenURL: 'http://auth.example.com/oauth/token', clientID: 'id', clientSecret: secret })],
  [
    'the token vault',
    () =>
      createFractalVault({
        store: new MemoryTokenStore(),
        encryptionKeys: generateEncryptionKey(),
        clientID: 'id',
        clientSecret: secret,
        tokenURL: 'http://auth.example.com/oauth/token',
      }),
  ],
  ['FractalClient', () => new FractalClient({ clientID: 'id', clientSecret: secret, tokenURL: 'http://auth.example.com/oauth/token' })],
])('%s refuses a plain-http tokenURL on a public host at construction', (_name, build) => {
  expect(build).toThrow(expect.objectContaining({ code: 'configuration_error', message: expect.stringMatching(/https/) }));
});
